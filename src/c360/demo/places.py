"""Where the customers live and shop: provinces, districts, streets, branches and carriers.

Thai entries name real districts (เขต/อำเภอ) and subdistricts (แขวง/ตำบล) with their real
postcodes, in Thai script and RTGS romanization; Bangkok districts use แขวง/เขต, the other
provinces ตำบล/อำเภอ. Vietnamese entries name real quận/huyện, phường and streets (as before
the 2025 merger of provinces). Data only.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThaiProvince:
    thai: str
    roman: str
    weight: float
    spellings: tuple[str, ...]  # other ways people write it
    area_code: str  # landline prefix without the trunk 0


@dataclass(frozen=True, slots=True)
class ThaiDistrict:
    province: int  # index into THAI_PROVINCES
    thai: str
    roman: str
    subdistricts: tuple[tuple[str, str, str], ...]  # (thai, roman, postcode)
    roads: tuple[tuple[str, str], ...]  # (thai, roman)


THAI_PROVINCES: tuple[ThaiProvince, ...] = (
    ThaiProvince(
        "กรุงเทพมหานคร", "Bangkok", 36, ("กรุงเทพฯ", "กทม.", "BKK", "Bangkok Metropolis"), "2"
    ),
    ThaiProvince("นนทบุรี", "Nonthaburi", 8, ("จ.นนทบุรี", "Nonthaburi Province"), "2"),
    ThaiProvince("ปทุมธานี", "Pathum Thani", 6, ("จ.ปทุมธานี", "Pathumthani"), "2"),
    ThaiProvince("สมุทรปราการ", "Samut Prakan", 7, ("จ.สมุทรปราการ", "Samutprakarn"), "2"),
    ThaiProvince("เชียงใหม่", "Chiang Mai", 10, ("จ.เชียงใหม่", "Chiangmai", "CNX"), "53"),
    ThaiProvince("ภูเก็ต", "Phuket", 6, ("จ.ภูเก็ต", "Phuket Province"), "76"),
    ThaiProvince("ขอนแก่น", "Khon Kaen", 6, ("จ.ขอนแก่น", "Khonkaen"), "43"),
    ThaiProvince("ชลบุรี", "Chon Buri", 9, ("จ.ชลบุรี", "Chonburi"), "38"),
    ThaiProvince("นครราชสีมา", "Nakhon Ratchasima", 6, ("โคราช", "Korat"), "44"),
    ThaiProvince("สงขลา", "Songkhla", 5, ("จ.สงขลา", "Songkla"), "74"),
    ThaiProvince("อุดรธานี", "Udon Thani", 4, ("จ.อุดรธานี", "Udonthani"), "42"),
)


def _d(
    province: int,
    thai: str,
    roman: str,
    subdistricts: tuple[tuple[str, str, str], ...],
    roads: tuple[tuple[str, str], ...],
) -> ThaiDistrict:
    return ThaiDistrict(province, thai, roman, subdistricts, roads)


THAI_DISTRICTS: tuple[ThaiDistrict, ...] = (
    _d(0, "ปทุมวัน", "Pathum Wan",
       (("ลุมพินี", "Lumphini", "10330"), ("ปทุมวัน", "Pathum Wan", "10330"),
        ("รองเมือง", "Rong Mueang", "10330"), ("วังใหม่", "Wang Mai", "10330")),
       (("พระรามที่ 1", "Rama I"), ("ราชดำริ", "Ratchadamri"), ("พญาไท", "Phaya Thai"),
        ("วิทยุ", "Witthayu"))),
    _d(0, "วัฒนา", "Watthana",
       (("คลองเตยเหนือ", "Khlong Toei Nuea", "10110"), ("คลองตันเหนือ", "Khlong Tan Nuea", "10110"),
        ("พระโขนงเหนือ", "Phra Khanong Nuea", "10110")),
       (("สุขุมวิท", "Sukhumvit"), ("เพชรบุรีตัดใหม่", "New Phetchaburi"))),
    _d(0, "คลองเตย", "Khlong Toei",
       (("คลองเตย", "Khlong Toei", "10110"), ("คลองตัน", "Khlong Tan", "10110"),
        ("พระโขนง", "Phra Khanong", "10110")),
       (("พระรามที่ 4", "Rama IV"), ("สุขุมวิท", "Sukhumvit"), ("รัชดาภิเษก", "Ratchadaphisek"))),
    _d(0, "บางรัก", "Bang Rak",
       (("สีลม", "Si Lom", "10500"), ("สุริยวงศ์", "Suriyawong", "10500"),
        ("มหาพฤฒาราม", "Maha Phruettharam", "10500"), ("บางรัก", "Bang Rak", "10500")),
       (("สีลม", "Si Lom"), ("สุรวงศ์", "Surawong"), ("เจริญกรุง", "Charoen Krung"))),
    _d(0, "จตุจักร", "Chatuchak",
       (("ลาดยาว", "Lat Yao", "10900"), ("จตุจักร", "Chatuchak", "10900"),
        ("จอมพล", "Chom Phon", "10900"), ("จันทรเกษม", "Chankasem", "10900"),
        ("เสนานิคม", "Sena Nikhom", "10900")),
       (("พหลโยธิน", "Phahonyothin"), ("วิภาวดีรังสิต", "Vibhavadi Rangsit"),
        ("ลาดพร้าว", "Lat Phrao"))),
    _d(0, "ห้วยขวาง", "Huai Khwang",
       (("ห้วยขวาง", "Huai Khwang", "10310"), ("บางกะปิ", "Bang Kapi", "10310"),
        ("สามเสนนอก", "Sam Sen Nok", "10310")),
       (("รัชดาภิเษก", "Ratchadaphisek"), ("ประชาราษฎร์บำเพ็ญ", "Pracharat Bamphen"),
        ("พระรามที่ 9", "Rama IX"))),
    _d(0, "บางกะปิ", "Bang Kapi",
       (("คลองจั่น", "Khlong Chan", "10240"), ("หัวหมาก", "Hua Mak", "10240")),
       (("รามคำแหง", "Ramkhamhaeng"), ("ลาดพร้าว", "Lat Phrao"), ("ศรีนครินทร์", "Srinagarindra"))),
    _d(0, "ลาดพร้าว", "Lat Phrao",
       (("ลาดพร้าว", "Lat Phrao", "10230"), ("จรเข้บัว", "Chorakhe Bua", "10230")),
       (("ลาดพร้าว", "Lat Phrao"), ("โชคชัย 4", "Chok Chai 4"))),
    _d(0, "บางนา", "Bang Na",
       (("บางนาเหนือ", "Bang Na Nuea", "10260"), ("บางนาใต้", "Bang Na Tai", "10260")),
       (("บางนา-ตราด", "Bang Na-Trat"), ("สุขุมวิท", "Sukhumvit"))),
    _d(0, "สาทร", "Sathon",
       (("ทุ่งมหาเมฆ", "Thung Maha Mek", "10120"), ("ยานนาวา", "Yan Nawa", "10120"),
        ("ทุ่งวัดดอน", "Thung Wat Don", "10120")),
       (("สาทรใต้", "Sathon Tai"), ("สาทรเหนือ", "Sathon Nuea"),
        ("นราธิวาสราชนครินทร์", "Narathiwat Ratchanakharin"))),
    _d(0, "ดินแดง", "Din Daeng",
       (("ดินแดง", "Din Daeng", "10400"), ("รัชดาภิเษก", "Ratchadaphisek", "10400")),
       (("ดินแดง", "Din Daeng"), ("วิภาวดีรังสิต", "Vibhavadi Rangsit"),
        ("ประชาสงเคราะห์", "Pracha Songkhro"))),
    _d(0, "บางซื่อ", "Bang Sue",
       (("บางซื่อ", "Bang Sue", "10800"), ("วงศ์สว่าง", "Wong Sawang", "10800")),
       (("ประชาราษฎร์สาย 1", "Pracharat Sai 1"), ("กรุงเทพ-นนทบุรี", "Krung Thep-Nonthaburi"))),
    _d(0, "พระนคร", "Phra Nakhon",
       (("ชนะสงคราม", "Chana Songkhram", "10200"), ("บวรนิเวศ", "Bowon Niwet", "10200"),
        ("พระบรมมหาราชวัง", "Phra Borom Maha Ratchawang", "10200")),
       (("ราชดำเนินกลาง", "Ratchadamnoen Klang"), ("พระอาทิตย์", "Phra Athit"))),
    _d(0, "ธนบุรี", "Thon Buri",
       (("วัดกัลยาณ์", "Wat Kanlaya", "10600"), ("บุคคโล", "Bukkhalo", "10600"),
        ("สำเหร่", "Samre", "10600")),
       (("อิสรภาพ", "Itsaraphap"), ("เทอดไท", "Thoet Thai"))),
    _d(0, "บางแค", "Bang Khae",
       (("บางแค", "Bang Khae", "10160"), ("บางแคเหนือ", "Bang Khae Nuea", "10160")),
       (("เพชรเกษม", "Phet Kasem"), ("กาญจนาภิเษก", "Kanchanaphisek"))),
    _d(0, "บางเขน", "Bang Khen",
       (("อนุสาวรีย์", "Anusawari", "10220"), ("ท่าแร้ง", "Tha Raeng", "10220")),
       (("พหลโยธิน", "Phahonyothin"), ("รามอินทรา", "Ram Inthra"))),
    _d(1, "เมืองนนทบุรี", "Mueang Nonthaburi",
       (("บางกระสอ", "Bang Kraso", "11000"), ("ตลาดขวัญ", "Talat Khwan", "11000"),
        ("บางเขน", "Bang Khen", "11000")),
       (("งามวงศ์วาน", "Ngamwongwan"), ("รัตนาธิเบศร์", "Rattanathibet"), ("ติวานนท์", "Tiwanon"))),
    _d(1, "ปากเกร็ด", "Pak Kret",
       (("ปากเกร็ด", "Pak Kret", "11120"), ("บางตลาด", "Bang Talat", "11120"),
        ("บ้านใหม่", "Ban Mai", "11120")),
       (("แจ้งวัฒนะ", "Chaeng Watthana"), ("ติวานนท์", "Tiwanon"))),
    _d(1, "บางบัวทอง", "Bang Bua Thong",
       (("โสนลอย", "Sano Loi", "11110"), ("บางรักพัฒนา", "Bang Rak Phatthana", "11110")),
       (("บางกรวย-ไทรน้อย", "Bang Kruai-Sai Noi"), ("กาญจนาภิเษก", "Kanchanaphisek"))),
    _d(2, "คลองหลวง", "Khlong Luang",
       (("คลองหนึ่ง", "Khlong Nueng", "12120"), ("คลองสอง", "Khlong Song", "12120")),
       (("พหลโยธิน", "Phahonyothin"),)),
    _d(2, "เมืองปทุมธานี", "Mueang Pathum Thani",
       (("บางปรอก", "Bang Prok", "12000"), ("บ้านกลาง", "Ban Klang", "12000")),
       (("ติวานนท์", "Tiwanon"),)),
    _d(3, "เมืองสมุทรปราการ", "Mueang Samut Prakan",
       (("ปากน้ำ", "Pak Nam", "10270"), ("เทพารักษ์", "Thepharak", "10270"),
        ("สำโรงเหนือ", "Samrong Nuea", "10270")),
       (("สุขุมวิท", "Sukhumvit"), ("เทพารักษ์", "Thepharak"))),
    _d(3, "บางพลี", "Bang Phli",
       (("บางพลีใหญ่", "Bang Phli Yai", "10540"), ("บางแก้ว", "Bang Kaeo", "10540"),
        ("ราชาเทวะ", "Racha Thewa", "10540")),
       (("บางนา-ตราด", "Bang Na-Trat"), ("กิ่งแก้ว", "King Kaeo"))),
    _d(4, "เมืองเชียงใหม่", "Mueang Chiang Mai",
       (("ศรีภูมิ", "Si Phum", "50200"), ("สุเทพ", "Suthep", "50200"),
        ("ช้างคลาน", "Chang Khlan", "50100"), ("หายยา", "Hai Ya", "50100"),
        ("ช้างเผือก", "Chang Phueak", "50300"), ("วัดเกต", "Wat Ket", "50000")),
       (("ห้วยแก้ว", "Huai Kaeo"), ("นิมมานเหมินท์", "Nimmanhaemin"), ("ช้างคลาน", "Chang Khlan"),
        ("เจริญราษฎร์", "Charoen Rat"), ("มหิดล", "Mahidol"))),
    _d(4, "สันทราย", "San Sai",
       (("สันทรายหลวง", "San Sai Luang", "50210"), ("หนองจ๊อม", "Nong Chom", "50210")),
       (("เชียงใหม่-แม่โจ้", "Chiang Mai-Mae Jo"),)),
    _d(4, "หางดง", "Hang Dong",
       (("หางดง", "Hang Dong", "50230"), ("บ้านแหวน", "Ban Waen", "50230")),
       (("เชียงใหม่-ฮอด", "Chiang Mai-Hot"),)),
    _d(5, "เมืองภูเก็ต", "Mueang Phuket",
       (("ตลาดใหญ่", "Talat Yai", "83000"), ("ตลาดเหนือ", "Talat Nuea", "83000"),
        ("วิชิต", "Wichit", "83000"), ("รัษฎา", "Ratsada", "83000")),
       (("ถลาง", "Thalang"), ("เยาวราช", "Yaowarat"), ("ภูเก็ต", "Phuket"),
        ("เทพกระษัตรี", "Thep Krasattri"))),
    _d(5, "กะทู้", "Kathu",
       (("ป่าตอง", "Patong", "83150"), ("กะทู้", "Kathu", "83120")),
       (("ราษฎร์อุทิศ 200 ปี", "Rat-U-Thit 200 Pi"), ("พระบารมี", "Phra Barami"))),
    _d(5, "ถลาง", "Thalang",
       (("เชิงทะเล", "Choeng Thale", "83110"), ("เทพกระษัตรี", "Thep Krasattri", "83110")),
       (("เทพกระษัตรี", "Thep Krasattri"), ("ศรีสุนทร", "Si Sunthon"))),
    _d(6, "เมืองขอนแก่น", "Mueang Khon Kaen",
       (("ในเมือง", "Nai Mueang", "40000"), ("ศิลา", "Sila", "40000"),
        ("บ้านเป็ด", "Ban Pet", "40000")),
       (("มิตรภาพ", "Mittraphap"), ("ศรีจันทร์", "Si Chan"), ("หน้าเมือง", "Na Mueang"))),
    _d(7, "เมืองชลบุรี", "Mueang Chon Buri",
       (("บางปลาสร้อย", "Bang Pla Soi", "20000"), ("เสม็ด", "Samet", "20000"),
        ("บ้านสวน", "Ban Suan", "20000")),
       (("สุขุมวิท", "Sukhumvit"), ("พระยาสัจจา", "Phraya Satcha"))),
    _d(7, "บางละมุง", "Bang Lamung",
       (("หนองปรือ", "Nong Prue", "20150"), ("นาเกลือ", "Na Kluea", "20150")),
       (("พัทยาสาย 2", "Pattaya Sai 2"), ("สุขุมวิท", "Sukhumvit"))),
    _d(7, "ศรีราชา", "Si Racha",
       (("ศรีราชา", "Si Racha", "20110"), ("สุรศักดิ์", "Surasak", "20110")),
       (("สุขุมวิท", "Sukhumvit"), ("เจิมจอมพล", "Choem Chomphon"))),
    _d(8, "เมืองนครราชสีมา", "Mueang Nakhon Ratchasima",
       (("ในเมือง", "Nai Mueang", "30000"), ("โพธิ์กลาง", "Pho Klang", "30000"),
        ("หัวทะเล", "Hua Thale", "30000")),
       (("มิตรภาพ", "Mittraphap"), ("ราชดำเนิน", "Ratchadamnoen"), ("สุรนารายณ์", "Suranarai"))),
    _d(9, "หาดใหญ่", "Hat Yai",
       (("หาดใหญ่", "Hat Yai", "90110"), ("คอหงส์", "Kho Hong", "90110")),
       (("นิพัทธ์อุทิศ 1", "Niphat Uthit 1"), ("เพชรเกษม", "Phet Kasem"),
        ("กาญจนวณิชย์", "Kanchanawanit"))),
    _d(9, "เมืองสงขลา", "Mueang Songkhla",
       (("บ่อยาง", "Bo Yang", "90000"),),
       (("นครนอก", "Nakhon Nok"), ("ไทรบุรี", "Saiburi"))),
    _d(10, "เมืองอุดรธานี", "Mueang Udon Thani",
       (("หมากแข้ง", "Mak Khaeng", "41000"), ("บ้านเลื่อม", "Ban Lueam", "41000")),
       (("ทหาร", "Thahan"), ("โพศรี", "Pho Si"), ("อุดรดุษฎี", "Udon Dutsadi"))),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class VnProvince:
    name: str  # "TP. Hồ Chí Minh"
    weight: float
    spellings: tuple[str, ...]
    cccd_code: str  # first three digits of a citizen id card issued there
    area_code: str  # landline prefix without the trunk 0
    postcode: str


@dataclass(frozen=True, slots=True)
class VnDistrict:
    province: int
    name: str  # "Quận 1", "Thành phố Thủ Đức"
    wards: tuple[str, ...]  # "Phường Bến Nghé", "Phường 25"
    streets: tuple[str, ...]
    alleys: bool = False  # Hà Nội style "ngõ"/"ngách" addresses


VN_PROVINCES: tuple[VnProvince, ...] = (
    VnProvince(
        "TP. Hồ Chí Minh",
        40,
        ("TP.HCM", "Hồ Chí Minh", "Thành phố Hồ Chí Minh", "TPHCM", "HCM", "Sài Gòn"),
        "079",
        "28",
        "70000",
    ),
    VnProvince(
        "Hà Nội", 28, ("TP. Hà Nội", "Thành phố Hà Nội", "HN", "Ha Noi"), "001", "24", "10000"
    ),
    VnProvince(
        "Đà Nẵng", 8, ("TP. Đà Nẵng", "Thành phố Đà Nẵng", "Da Nang"), "048", "236", "50000"
    ),
    VnProvince("Hải Phòng", 5, ("TP. Hải Phòng", "Hai Phong"), "031", "225", "04000"),
    VnProvince("Cần Thơ", 5, ("TP. Cần Thơ", "Can Tho"), "092", "292", "94000"),
    VnProvince("Bình Dương", 7, ("Tỉnh Bình Dương", "Binh Duong"), "074", "274", "75000"),
    VnProvince("Đồng Nai", 4, ("Tỉnh Đồng Nai", "Dong Nai"), "075", "251", "76000"),
    VnProvince("Khánh Hòa", 3, ("Tỉnh Khánh Hòa", "Khanh Hoa", "Nha Trang"), "056", "258", "57000"),
)

# Where Vietnamese citizen ids were issued for people who moved to the cities (birthplaces).
VN_OTHER_CCCD_CODES = ("036", "038", "040", "052", "087", "034", "042", "051", "083", "094")

VN_DISTRICTS: tuple[VnDistrict, ...] = (
    VnDistrict(0, "Quận 1",
               ("Phường Bến Nghé", "Phường Bến Thành", "Phường Đa Kao", "Phường Nguyễn Thái Bình",
                "Phường Cô Giang"),
               ("Lê Lợi", "Nguyễn Huệ", "Đồng Khởi", "Hai Bà Trưng", "Pasteur", "Lý Tự Trọng",
                "Nguyễn Thị Minh Khai", "Trần Hưng Đạo")),
    VnDistrict(0, "Quận 3",
               ("Phường Võ Thị Sáu", "Phường 9", "Phường 11"),
               ("Võ Văn Tần", "Nam Kỳ Khởi Nghĩa", "Cách Mạng Tháng Tám", "Lê Văn Sỹ")),
    VnDistrict(0, "Quận 7",
               ("Phường Tân Phong", "Phường Tân Phú", "Phường Tân Hưng"),
               ("Nguyễn Văn Linh", "Nguyễn Thị Thập", "Huỳnh Tấn Phát")),
    VnDistrict(0, "Quận Bình Thạnh",
               ("Phường 25", "Phường 22", "Phường 15"),
               ("Xô Viết Nghệ Tĩnh", "Điện Biên Phủ", "Nguyễn Xí", "Bạch Đằng")),
    VnDistrict(0, "Quận Phú Nhuận",
               ("Phường 9", "Phường 15", "Phường 17"),
               ("Phan Xích Long", "Phan Đăng Lưu", "Hoàng Văn Thụ")),
    VnDistrict(0, "Quận Tân Bình",
               ("Phường 2", "Phường 4", "Phường 12"),
               ("Cộng Hòa", "Trường Chinh", "Hoàng Văn Thụ")),
    VnDistrict(0, "Thành phố Thủ Đức",
               ("Phường Thảo Điền", "Phường An Phú", "Phường Linh Trung"),
               ("Xa lộ Hà Nội", "Quốc Hương", "Võ Văn Ngân", "Mai Chí Thọ")),
    VnDistrict(0, "Quận Gò Vấp",
               ("Phường 5", "Phường 10", "Phường 17"),
               ("Quang Trung", "Nguyễn Oanh", "Phan Văn Trị")),
    VnDistrict(1, "Quận Hoàn Kiếm",
               ("Phường Hàng Bạc", "Phường Tràng Tiền", "Phường Hàng Trống", "Phường Lý Thái Tổ"),
               ("Hàng Bạc", "Tràng Tiền", "Đinh Tiên Hoàng", "Hàng Bài", "Lý Thường Kiệt"), True),
    VnDistrict(1, "Quận Ba Đình",
               ("Phường Kim Mã", "Phường Điện Biên", "Phường Liễu Giai"),
               ("Kim Mã", "Liễu Giai", "Đội Cấn", "Hoàng Hoa Thám"), True),
    VnDistrict(1, "Quận Đống Đa",
               ("Phường Láng Hạ", "Phường Ô Chợ Dừa", "Phường Trung Liệt"),
               ("Láng Hạ", "Xã Đàn", "Tây Sơn", "Thái Hà"), True),
    VnDistrict(1, "Quận Cầu Giấy",
               ("Phường Dịch Vọng", "Phường Yên Hòa", "Phường Nghĩa Đô"),
               ("Xuân Thủy", "Trần Duy Hưng", "Cầu Giấy", "Nguyễn Khánh Toàn"), True),
    VnDistrict(1, "Quận Hai Bà Trưng",
               ("Phường Bách Khoa", "Phường Bạch Đằng", "Phường Lê Đại Hành"),
               ("Bạch Mai", "Giải Phóng", "Minh Khai", "Lò Đúc"), True),
    VnDistrict(1, "Quận Tây Hồ",
               ("Phường Quảng An", "Phường Nhật Tân", "Phường Xuân La"),
               ("Xuân Diệu", "Âu Cơ", "Lạc Long Quân"), True),
    VnDistrict(1, "Quận Thanh Xuân",
               ("Phường Nhân Chính", "Phường Thanh Xuân Trung"),
               ("Nguyễn Trãi", "Lê Văn Lương", "Khuất Duy Tiến"), True),
    VnDistrict(2, "Quận Hải Châu",
               ("Phường Thạch Thang", "Phường Hải Châu I", "Phường Phước Ninh",
                "Phường Hòa Cường Bắc"),
               ("Bạch Đằng", "Trần Phú", "Lê Duẩn", "Nguyễn Văn Linh", "Hùng Vương")),
    VnDistrict(2, "Quận Sơn Trà",
               ("Phường An Hải Bắc", "Phường Phước Mỹ", "Phường Mân Thái"),
               ("Võ Nguyên Giáp", "Ngô Quyền", "Phạm Văn Đồng")),
    VnDistrict(2, "Quận Ngũ Hành Sơn",
               ("Phường Mỹ An", "Phường Khuê Mỹ"),
               ("Lê Văn Hiến", "Ngũ Hành Sơn")),
    VnDistrict(2, "Quận Thanh Khê",
               ("Phường Thạc Gián", "Phường Chính Gián"),
               ("Điện Biên Phủ", "Hàm Nghi")),
    VnDistrict(3, "Quận Lê Chân",
               ("Phường An Biên", "Phường Dư Hàng"),
               ("Tô Hiệu", "Hai Bà Trưng")),
    VnDistrict(3, "Quận Ngô Quyền",
               ("Phường Lạch Tray", "Phường Máy Chai"),
               ("Lạch Tray", "Lê Lợi", "Văn Cao")),
    VnDistrict(4, "Quận Ninh Kiều",
               ("Phường Tân An", "Phường An Hòa", "Phường Xuân Khánh"),
               ("30 Tháng 4", "Nguyễn Văn Cừ", "Mậu Thân", "Hai Bà Trưng")),
    VnDistrict(5, "Thành phố Thủ Dầu Một",
               ("Phường Phú Cường", "Phường Phú Hòa", "Phường Hiệp Thành"),
               ("Đại lộ Bình Dương", "Yersin", "Cách Mạng Tháng Tám")),
    VnDistrict(5, "Thành phố Dĩ An",
               ("Phường Dĩ An", "Phường Đông Hòa"),
               ("Nguyễn An Ninh", "Trần Hưng Đạo")),
    VnDistrict(6, "Thành phố Biên Hòa",
               ("Phường Tân Mai", "Phường Quyết Thắng", "Phường Tân Phong"),
               ("Phạm Văn Thuận", "Võ Thị Sáu", "Đồng Khởi")),
    VnDistrict(7, "Thành phố Nha Trang",
               ("Phường Lộc Thọ", "Phường Tân Lập", "Phường Vĩnh Hải"),
               ("Trần Phú", "Thái Nguyên", "Nguyễn Thiện Thuật", "Phạm Văn Đồng")),
)  # fmt: skip


def vn_short(unit: str) -> str:
    """A ward or district as abbreviated: ``P. Bến Nghé``, ``P.25``, ``Q.1``, ``TP. Thủ Đức``."""
    for full, short in (("Phường ", "P."), ("Quận ", "Q."), ("Thành phố ", "TP."), ("Xã ", "X.")):
        if unit.startswith(full):
            rest = unit[len(full) :]
            return f"{short}{rest}" if rest[:1].isdigit() else f"{short} {rest}"
    return unit


@dataclass(frozen=True, slots=True)
class Branch:
    code: str
    name: str
    country: str
    province: int  # index into THAI_PROVINCES or VN_PROVINCES
    phone: str  # national significant number of the shop counter


BRANCHES: tuple[Branch, ...] = (
    Branch("BKK01", "Bangkok Siam", "TH", 0, "22518800"),
    Branch("BKK02", "Bangkok Ladprao", "TH", 0, "29381100"),
    Branch("BKK03", "Bangkok Bangna", "TH", 0, "23993300"),
    Branch("CNX01", "Chiang Mai Nimman", "TH", 4, "53215500"),
    Branch("HKT01", "Phuket Central", "TH", 5, "76303300"),
    Branch("KKC01", "Khon Kaen", "TH", 6, "43221100"),
    Branch("CBI01", "Pattaya", "TH", 7, "38412200"),
    Branch("SGN01", "HCMC District 1", "VN", 0, "2838221100"),
    Branch("SGN02", "HCMC Thao Dien", "VN", 0, "2837443300"),
    Branch("HAN01", "Hanoi Hoan Kiem", "VN", 1, "2439365500"),
    Branch("HAN02", "Hanoi Cau Giay", "VN", 1, "2437951100"),
    Branch("DAD01", "Da Nang", "VN", 2, "2363822200"),
)

CARRIERS: dict[str, tuple[tuple[str, float], ...]] = {
    "TH": (
        ("Kerry Express", 35),
        ("Flash Express", 35),
        ("Thailand Post", 20),
        ("J&T Express", 10),
    ),
    "VN": (("GHN", 35), ("Viettel Post", 25), ("GHTK", 30), ("J&T Express", 10)),
}

# Preferred delivery windows as customers write them (TH and VN), empty most of the time.
DELIVERY_WINDOWS: dict[str, tuple[str, ...]] = {
    "TH": (
        "after 18:00", "weekend", "หลัง 18.00 น.", "เสาร์-อาทิตย์", "ช่วงเช้า", "9:00-12:00",
        "ฝากไว้ที่ป้อม รปภ.", "office hours", "โทรก่อนส่ง",
    ),
    "VN": (
        "after 18:00", "weekend", "sau 18h", "cuối tuần", "giờ hành chính", "buổi sáng",
        "gọi trước khi giao", "9:00-12:00", "để ở bảo vệ",
    ),
}  # fmt: skip
