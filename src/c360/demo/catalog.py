"""What the company sells and talks about: products, events, ticket topics, survey comments.

The company is a home-and-lifestyle retailer with shops in Thailand and Vietnam, a web shop and
an app. Data only.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Item:
    """A product line: names in English, Thai and Vietnamese, its category and base price."""

    en: str
    th: str
    vi: str
    category: int  # index into CATEGORIES
    price_thb: int


CATEGORIES: tuple[tuple[str, str, str, str], ...] = (
    # (code, English, Thai, Vietnamese)
    ("KIT", "Kitchen Appliances", "เครื่องใช้ไฟฟ้าในครัว", "Đồ gia dụng nhà bếp"),
    ("HOM", "Home & Living", "ของใช้ในบ้าน", "Nhà cửa & Đời sống"),
    ("BED", "Bedding & Bath", "เครื่องนอนและห้องน้ำ", "Chăn ga & Phòng tắm"),
    ("BEA", "Beauty & Personal Care", "ความงามและของใช้ส่วนตัว", "Làm đẹp & Chăm sóc cá nhân"),
    ("ELE", "Electronics & Gadgets", "อุปกรณ์อิเล็กทรอนิกส์", "Điện tử & Phụ kiện"),
    ("FUR", "Furniture", "เฟอร์นิเจอร์", "Nội thất"),
    ("HEA", "Health", "สุขภาพ", "Sức khỏe"),
)

ITEMS: tuple[Item, ...] = (
    Item("Rice Cooker 1.8L", "หม้อหุงข้าว 1.8 ลิตร", "Nồi cơm điện 1.8L", 0, 1290),
    Item("Air Fryer 5L", "หม้อทอดไร้น้ำมัน 5 ลิตร", "Nồi chiên không dầu 5L", 0, 2490),
    Item("Electric Kettle 1.7L", "กาต้มน้ำไฟฟ้า 1.7 ลิตร", "Ấm siêu tốc 1.7L", 0, 690),
    Item("Blender", "เครื่องปั่นน้ำผลไม้", "Máy xay sinh tố", 0, 1590),
    Item("Coffee Maker", "เครื่องชงกาแฟ", "Máy pha cà phê", 0, 3290),
    Item("Non-stick Frying Pan 28cm", "กระทะเคลือบ 28 ซม.", "Chảo chống dính 28cm", 0, 890),
    Item("Microwave Oven 20L", "ไมโครเวฟ 20 ลิตร", "Lò vi sóng 20L", 0, 2990),
    Item("Stand Fan 16 inch", "พัดลมตั้งพื้น 16 นิ้ว", "Quạt đứng 16 inch", 1, 990),
    Item("Air Purifier", "เครื่องฟอกอากาศ", "Máy lọc không khí", 1, 4990),
    Item("Vacuum Cleaner", "เครื่องดูดฝุ่น", "Máy hút bụi", 1, 3490),
    Item("Steam Iron", "เตารีดไอน้ำ", "Bàn ủi hơi nước", 1, 990),
    Item("Storage Box 40L", "กล่องเก็บของ 40 ลิตร", "Hộp đựng đồ 40L", 1, 259),
    Item("Desk Lamp LED", "โคมไฟตั้งโต๊ะ LED", "Đèn bàn LED", 1, 590),
    Item("Water Bottle 750ml", "กระบอกน้ำ 750 มล.", "Bình nước 750ml", 1, 350),
    Item("Bath Towel", "ผ้าเช็ดตัว", "Khăn tắm", 2, 290),
    Item("Memory Foam Pillow", "หมอนเมมโมรี่โฟม", "Gối cao su non", 2, 890),
    Item("Bed Sheet Set 6ft", "ชุดผ้าปูที่นอน 6 ฟุต", "Bộ ga giường 1m8", 2, 1190),
    Item("Duvet", "ผ้านวม", "Chăn bông", 2, 1590),
    Item("Sunscreen SPF50", "ครีมกันแดด SPF50", "Kem chống nắng SPF50", 3, 450),
    Item("Facial Cleanser", "โฟมล้างหน้า", "Sữa rửa mặt", 3, 259),
    Item("Shampoo 400ml", "แชมพู 400 มล.", "Dầu gội 400ml", 3, 189),
    Item("Body Lotion", "โลชั่นทาผิว", "Sữa dưỡng thể", 3, 229),
    Item("Hair Dryer", "ไดร์เป่าผม", "Máy sấy tóc", 3, 790),
    Item("Power Bank 10000mAh", "พาวเวอร์แบงค์ 10000mAh", "Sạc dự phòng 10000mAh", 4, 790),
    Item("USB-C Cable 1m", "สายชาร์จ USB-C 1 ม.", "Cáp sạc USB-C 1m", 4, 199),
    Item("Bluetooth Earbuds", "หูฟังบลูทูธ", "Tai nghe Bluetooth", 4, 1290),
    Item("Smart Plug", "ปลั๊กอัจฉริยะ", "Ổ cắm thông minh", 4, 490),
    Item("Bluetooth Speaker", "ลำโพงบลูทูธ", "Loa Bluetooth", 4, 1490),
    Item("Office Chair", "เก้าอี้สำนักงาน", "Ghế văn phòng", 5, 2990),
    Item("Bookshelf 4 Tiers", "ชั้นวางหนังสือ 4 ชั้น", "Kệ sách 4 tầng", 5, 1490),
    Item("Folding Table", "โต๊ะพับ", "Bàn gấp", 5, 990),
    Item("Shoe Rack", "ชั้นวางรองเท้า", "Kệ giày", 5, 690),
    Item("Vitamin C 1000mg", "วิตามินซี 1000 มก.", "Vitamin C 1000mg", 6, 390),
    Item("Digital Thermometer", "ปรอทวัดไข้ดิจิทัล", "Nhiệt kế điện tử", 6, 250),
    Item("Blood Pressure Monitor", "เครื่องวัดความดัน", "Máy đo huyết áp", 6, 1890),
    Item("Hand Sanitizer 500ml", "เจลล้างมือ 500 มล.", "Gel rửa tay 500ml", 6, 99),
)

BRANDS: tuple[str, ...] = (
    "HomeMate", "Siam Kitchen", "Saigon Living", "PureGlow", "VoltGo", "Lanna Home", "Mekong",
    "Orchid", "Lotus Care", "Bamboo & Co",
)  # fmt: skip
VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("", "", ""),
    ("White", "สีขาว", "Màu trắng"),
    ("Black", "สีดำ", "Màu đen"),
    ("Grey", "สีเทา", "Màu xám"),
    ("Pink", "สีชมพู", "Màu hồng"),
    ("Blue", "สีฟ้า", "Màu xanh"),
    ("Pro", "รุ่นโปร", "Bản Pro"),
    ("Mini", "รุ่นมินิ", "Bản Mini"),
)

WAREHOUSES = ("BKK", "CNX", "HCM", "HAN")

# (name, date, country, city); dates ISO.
EVENTS: tuple[tuple[str, str, str], ...] = (
    ("Home & Living Expo Bangkok 2022", "2022-09-17", "TH"),
    ("Home & Living Expo Bangkok 2023", "2023-09-16", "TH"),
    ("Cooking Class: Thai Street Food", "2024-02-10", "TH"),
    ("Skincare Workshop Chiang Mai", "2024-05-18", "TH"),
    ("Smart Home Day Phuket", "2023-11-25", "TH"),
    ("Member Night Bangkok 2024", "2024-12-06", "TH"),
    ("Triển lãm Nhà đẹp TP.HCM 2023", "2023-10-21", "VN"),
    ("Workshop Pha chế cà phê Hà Nội", "2024-03-09", "VN"),
    ("Ngày hội Thành viên Đà Nẵng 2024", "2024-08-17", "VN"),
    ("Smart Kitchen Launch HCMC", "2024-06-22", "VN"),
    ("Hội chợ Gia dụng Hà Nội 2022", "2022-11-12", "VN"),
)

TICKET_TOPICS: tuple[str, ...] = (
    "Delivery",
    "Damaged item",
    "Invoice",
    "Address change",
    "Account",
    "Refund",
    "Warranty",
    "Product question",
)

# Call notes per topic, in Thai, Vietnamese and English ({order} is the order number).
TICKET_NOTES: dict[str, tuple[tuple[str, ...], ...]] = {
    "th": (
        ("สอบถามสถานะการจัดส่งคำสั่งซื้อ {order}", "ของยังไม่ถึง ลูกค้าโทรตามครั้งที่ 2"),
        ("ลูกค้าแจ้งว่าสินค้าชำรุด ขอเปลี่ยนสินค้าใหม่", "กล่องบุบ สินค้าแตก ส่งรูปมาทางไลน์แล้ว"),
        ("ขอใบกำกับภาษีเต็มรูป", "ขอแก้ชื่อในใบกำกับภาษี"),
        ("ลูกค้าต้องการเปลี่ยนที่อยู่จัดส่ง", "ย้ายบ้านใหม่ ขอแก้ที่อยู่ในระบบ"),
        ("เข้าสู่ระบบไม่ได้ ลืมรหัสผ่าน", "ไม่ได้รับ OTP"),
        ("ขอคืนเงิน สินค้าไม่ตรงปก", "ยกเลิกคำสั่งซื้อ {order} ขอเงินคืน"),
        ("สอบถามการรับประกันสินค้า", "เครื่องเสียหลังใช้งาน 3 เดือน"),
        ("สอบถามขนาดสินค้า", "มีสีอื่นไหม"),
    ),
    "vi": (
        ("Hỏi tình trạng đơn hàng {order}", "Chưa nhận được hàng, khách gọi lần 2"),
        (
            "Khách báo sản phẩm bị lỗi, yêu cầu đổi hàng",
            "Hộp bị móp, hàng bị vỡ, đã gửi ảnh qua Zalo",
        ),
        ("Yêu cầu xuất hóa đơn VAT", "Xin sửa tên công ty trên hóa đơn"),
        ("Khách muốn đổi địa chỉ giao hàng", "Chuyển nhà, cập nhật địa chỉ mới"),
        ("Không đăng nhập được, quên mật khẩu", "Không nhận được mã OTP"),
        ("Yêu cầu hoàn tiền, hàng không giống hình", "Hủy đơn {order}, xin hoàn tiền"),
        ("Hỏi về chế độ bảo hành", "Máy hỏng sau 3 tháng sử dụng"),
        ("Hỏi kích thước sản phẩm", "Còn màu khác không?"),
    ),
    "en": (
        ("Asked about delivery status of order {order}", "Parcel not arrived, second call"),
        (
            "Customer reports damaged item, requests replacement",
            "Box dented, item broken, photos sent",
        ),
        ("Requests full tax invoice", "Wants the company name corrected on the invoice"),
        ("Wants to change delivery address", "Moved house, update address in system"),
        ("Cannot log in, forgot password", "OTP not received"),
        ("Refund request - item not as described", "Cancel order {order}, refund please"),
        ("Warranty question", "Unit stopped working after 3 months"),
        ("Asked about product size", "Other colours available?"),
    ),
}

AGENTS: dict[str, tuple[str, ...]] = {
    "TH": ("Warunee S.", "Kittipat T.", "ปิยะพร", "Nattaya K.", "อรอุมา", "Somkiat P."),
    "VN": ("Nguyễn Thu Hà", "Trần Minh Khoa", "Lê Thị Mai", "Phạm Quốc Bảo", "Hà My"),
}

# NPS comments: (positive, neutral, negative) per language.
SURVEY_COMMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "th": (
        ("บริการดีมาก พนักงานสุภาพ", "สินค้าคุณภาพดี ราคาเหมาะสม", "ส่งเร็วมาก ประทับใจ"),
        ("โอเค", "อยากให้มีโปรโมชั่นมากกว่านี้", "ก็ใช้ได้"),
        ("ส่งของช้า", "แอปใช้งานยาก", "พนักงานไม่ค่อยใส่ใจ", "สินค้าชำรุด รอเปลี่ยนนาน"),
    ),
    "vi": (
        ("Nhân viên nhiệt tình", "Sản phẩm tốt, giá hợp lý", "Giao hàng nhanh, rất hài lòng"),
        ("Tạm được", "Mong có nhiều khuyến mãi hơn", "Bình thường"),
        ("Giao hàng chậm", "Ứng dụng khó dùng", "Hàng bị lỗi, đổi trả lâu"),
    ),
    "en": (
        ("Great service", "Good quality for the price", "Fast delivery, very happy"),
        ("OK", "More promotions please", "Fine"),
        ("Delivery was late", "App is hard to use", "Damaged item, slow replacement"),
    ),
}

PAYMENT_METHODS: dict[str, tuple[tuple[str, float], ...]] = {
    "TH": (
        ("Cash", 30),
        ("Credit Card", 28),
        ("PromptPay", 30),
        ("Bank Transfer", 7),
        ("COD", 5),
    ),
    "VN": (
        ("Cash", 30),
        ("Card", 20),
        ("Bank Transfer", 15),
        ("MoMo", 15),
        ("ZaloPay", 8),
        ("COD", 12),
    ),
}

SHOP_PAYMENT_METHODS: dict[str, tuple[tuple[str, float], ...]] = {
    "TH": (
        ("Credit Card", 35),
        ("PromptPay", 30),
        ("COD", 20),
        ("Bank Transfer", 5),
        ("TrueMoney Wallet", 10),
    ),
    "VN": (
        ("COD", 40),
        ("MoMo", 20),
        ("ZaloPay", 10),
        ("Card", 15),
        ("Bank Transfer", 15),
    ),
}
