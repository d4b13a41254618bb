"""Names and the ways people write them: hand-curated tables for Thailand and Vietnam.

Thai names carry their Thai script and one to three romanizations seen in the wild (the Royal
Thai General System spelling and the common informal ones: ``Somchai``, ``Prasert``/``Prasoet``,
``Thanakorn``/``Tanakorn``). Vietnamese family names carry their real frequencies (Nguyễn about
38%). Everything here is data plus the small text functions the noise needs (typos, dropped
diacritics); nothing random happens at import.
"""

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class ThaiName:
    """One Thai given name or surname: the Thai script and its romanizations (preferred first)."""

    thai: str
    roman: tuple[str, ...]
    gender: str = ""  # "M", "F" or "" (surnames, unisex)


def _t(thai: str, gender: str, *roman: str) -> ThaiName:
    return ThaiName(thai, roman, gender)


THAI_GIVEN: tuple[ThaiName, ...] = (
    _t("สมชาย", "M", "Somchai", "Somchay"),
    _t("สมศักดิ์", "M", "Somsak", "Somsack"),
    _t("สมพงษ์", "M", "Sompong", "Somphong"),
    _t("ประเสริฐ", "M", "Prasert", "Prasoet", "Prasirt"),
    _t("วิชัย", "M", "Wichai", "Vichai", "Wichay"),
    _t("สุริยา", "M", "Suriya", "Sooriya"),
    _t("ธนากร", "M", "Thanakorn", "Tanakorn", "Thanakon"),
    _t("ณัฐพล", "M", "Nattapon", "Natthaphon", "Nuttapol"),
    _t("กิตติพงษ์", "M", "Kittipong", "Kittiphong"),
    _t("อนุชา", "M", "Anucha", "Anuchar"),
    _t("ชัยวัฒน์", "M", "Chaiwat", "Chaiwath", "Chaiwatt"),
    _t("วีระ", "M", "Weera", "Wira", "Veera"),
    _t("ประยุทธ", "M", "Prayut", "Prayuth", "Prayoot"),
    _t("สุรชัย", "M", "Surachai", "Surachay"),
    _t("อภิชาติ", "M", "Apichart", "Aphichat", "Apichat"),
    _t("ธีรพงษ์", "M", "Teerapong", "Thiraphong", "Theerapong"),
    _t("ศุภชัย", "M", "Supachai", "Suphachai"),
    _t("พีระพงษ์", "M", "Peerapong", "Phiraphong"),
    _t("ชาตรี", "M", "Chatri", "Chatree"),
    _t("บุญมี", "M", "Boonmee", "Bunmi"),
    _t("สุเทพ", "M", "Suthep", "Sutep"),
    _t("อรรถพล", "M", "Attapon", "Atthaphon", "Attaphol"),
    _t("ปิยะพงษ์", "M", "Piyapong", "Piyaphong"),
    _t("จักรพันธ์", "M", "Jakkapan", "Chakkraphan", "Jakkaphan"),
    _t("ธนพล", "M", "Thanapon", "Tanapol", "Thanaphon"),
    _t("วรวุฒิ", "M", "Worawut", "Vorawut", "Worawoot"),
    _t("นพดล", "M", "Noppadon", "Nopphadon", "Noppadol"),
    _t("เอกชัย", "M", "Ekkachai", "Eakchai", "Ekachai"),
    _t("สิทธิชัย", "M", "Sitthichai", "Sittichai"),
    _t("ภานุวัฒน์", "M", "Panuwat", "Phanuwat"),
    _t("ปกรณ์", "M", "Pakorn", "Pakon"),
    _t("กฤษดา", "M", "Kritsada", "Krisada", "Kridsada"),
    _t("ศักดิ์ชัย", "M", "Sakchai", "Sakchay"),
    _t("ธวัชชัย", "M", "Thawatchai", "Tawatchai"),
    _t("อนันต์", "M", "Anan", "Anant"),
    _t("ไพโรจน์", "M", "Pairoj", "Phairot", "Pairote"),
    _t("สมบัติ", "M", "Sombat", "Sombut"),
    _t("วัชระ", "M", "Watchara", "Wachara", "Watchala"),
    _t("ชนินทร์", "M", "Chanin", "Chanintr"),
    _t("ธีรวัฒน์", "M", "Teerawat", "Thirawat", "Theerawat"),
    _t("พงศกร", "M", "Pongsakorn", "Phongsakon"),
    _t("ภูมิ", "M", "Poom", "Phum", "Phoom"),
    _t("ณัฐวุฒิ", "M", "Nattawut", "Natthawut", "Nuttawut"),
    _t("อิทธิพล", "M", "Ittipol", "Itthiphon", "Ittiphon"),
    _t("ธนวัฒน์", "M", "Thanawat", "Tanawat"),
    _t("สมหญิง", "F", "Somying", "Somyhing"),
    _t("สุดา", "F", "Suda", "Sooda"),
    _t("มาลี", "F", "Malee", "Mali"),
    _t("วันเพ็ญ", "F", "Wanpen", "Wanphen"),
    _t("ปราณี", "F", "Pranee", "Prani"),
    _t("สุภาพร", "F", "Supaporn", "Suphaphon", "Supaphorn"),
    _t("อรุณี", "F", "Arunee", "Aruni"),
    _t("นภา", "F", "Napa", "Napha"),
    _t("กัญญา", "F", "Kanya", "Kunya"),
    _t("พรทิพย์", "F", "Porntip", "Phonthip", "Pornthip"),
    _t("สุนิสา", "F", "Sunisa", "Soonisa"),
    _t("ศิริพร", "F", "Siriporn", "Siriphon"),
    _t("จิราพร", "F", "Jiraporn", "Chiraphon"),
    _t("ณัฐธิดา", "F", "Nattida", "Natthida", "Nuttida"),
    _t("ปิยะนุช", "F", "Piyanuch", "Piyanut"),
    _t("รัตนา", "F", "Rattana", "Ratana"),
    _t("วิไลวรรณ", "F", "Wilaiwan", "Vilaiwan"),
    _t("อัญชลี", "F", "Anchalee", "Anchali", "Unchalee"),
    _t("กนกวรรณ", "F", "Kanokwan", "Kanokwun"),
    _t("ธิดารัตน์", "F", "Thidarat", "Tidarat"),
    _t("ดวงใจ", "F", "Duangjai", "Duangchai"),
    _t("นันทนา", "F", "Nantana", "Nanthana"),
    _t("พิมพ์ชนก", "F", "Pimchanok", "Phimchanok"),
    _t("ชนิดา", "F", "Chanida", "Chanidaa"),
    _t("เพ็ญศรี", "F", "Pensri", "Phensi", "Pensiri"),
    _t("สุมาลี", "F", "Sumalee", "Sumali"),
    _t("อรวรรณ", "F", "Orawan", "Orrawan"),
    _t("ปวีณา", "F", "Paweena", "Pawina", "Paveena"),
    _t("วรรณา", "F", "Wanna", "Wunna"),
    _t("ศศิธร", "F", "Sasitorn", "Sasithon", "Sasithorn"),
    _t("กาญจนา", "F", "Kanjana", "Kanchana"),
    _t("ลัดดา", "F", "Ladda", "Lada"),
    _t("สุกัญญา", "F", "Sukanya", "Sukunya"),
    _t("นิภาพร", "F", "Nipaporn", "Niphaphon"),
    _t("เบญจวรรณ", "F", "Benjawan", "Benchawan"),
    _t("ทิพวรรณ", "F", "Tippawan", "Thipphawan", "Thippawan"),
    _t("อารีรัตน์", "F", "Areerat", "Arirat"),
    _t("จันทร์เพ็ญ", "F", "Janpen", "Chanphen", "Chanpen"),
    _t("ปรียา", "F", "Preeya", "Priya"),
    _t("มณีรัตน์", "F", "Maneerat", "Manirat"),
    _t("ธัญญา", "F", "Tanya", "Thanya"),
    _t("วิภาวดี", "F", "Wipawadee", "Wiphawadi", "Vipavadee"),
    _t("สิริกานต์", "F", "Sirikan", "Sirikarn"),
    _t("ชุติมา", "F", "Chutima", "Chootima"),
    _t("พัชรา", "F", "Patchara", "Phatchara"),
)

THAI_SURNAMES: tuple[ThaiName, ...] = (
    _t("ใจดี", "", "Jaidee", "Chaidi", "Jaidi"),
    _t("สุขใจ", "", "Sukjai", "Sukchai"),
    _t("ศรีสุข", "", "Srisuk", "Sisuk", "Srisook"),
    _t("แสงทอง", "", "Saengthong", "Sangtong", "Saengtong"),
    _t("วงศ์สวัสดิ์", "", "Wongsawat", "Vongsawasdi", "Wongsawasdi"),
    _t("รัตนพันธ์", "", "Rattanaphan", "Ratanapan"),
    _t("บุญมา", "", "Boonma", "Bunma"),
    _t("ทองดี", "", "Thongdee", "Tongdee", "Thongdi"),
    _t("สมบูรณ์", "", "Somboon", "Sombun"),
    _t("จันทร์หอม", "", "Janhom", "Chanhom"),
    _t("ศรีวงศ์", "", "Sriwong", "Siwong"),
    _t("ประเสริฐสุข", "", "Prasertsuk", "Prasoetsuk"),
    _t("เจริญผล", "", "Charoenphon", "Jaroenpol", "Charoenpol"),
    _t("พงษ์พันธ์", "", "Pongpan", "Phongphan"),
    _t("สุวรรณ", "", "Suwan", "Suwanna"),
    _t("แก้วมณี", "", "Kaewmanee", "Kaeomani"),
    _t("ทองคำ", "", "Thongkham", "Tongkam"),
    _t("มีสุข", "", "Meesuk", "Misuk", "Meesook"),
    _t("บุญเรือง", "", "Boonruang", "Bunrueang"),
    _t("ชัยมงคล", "", "Chaimongkol", "Chaimongkhon"),
    _t("วงศ์ใหญ่", "", "Wongyai", "Vongyai"),
    _t("สายทอง", "", "Saithong", "Saitong"),
    _t("ศรีสวัสดิ์", "", "Srisawat", "Sisawat", "Srisawasdi"),
    _t("อินทร์แก้ว", "", "Inkaew", "Inkaeo"),
    _t("พรหมมา", "", "Promma", "Phromma"),
    _t("กิตติวงศ์", "", "Kittiwong", "Kittivong"),
    _t("ธนสาร", "", "Thanasan", "Tanasarn"),
    _t("นาคสุข", "", "Naksuk", "Naksook"),
    _t("รุ่งเรือง", "", "Rungruang", "Rungrueang"),
    _t("เพชรรัตน์", "", "Petcharat", "Phetcharat"),
    _t("ปัญญาดี", "", "Panyadee", "Panyadi"),
    _t("สุขสวัสดิ์", "", "Suksawat", "Suksawad"),
    _t("มั่นคง", "", "Mankong", "Mankhong"),
    _t("อุดมสุข", "", "Udomsuk", "Udomsook"),
    _t("ศรีทอง", "", "Srithong", "Sithong"),
    _t("แสงจันทร์", "", "Saengchan", "Sangjan"),
    _t("ทองมา", "", "Thongma", "Tongma"),
    _t("บุญยืน", "", "Boonyuen", "Bunyuen"),
    _t("วิเศษสุวรรณ", "", "Wisetsuwan", "Visetsuwan"),
    _t("จันทร์แก้ว", "", "Jankaew", "Chankaeo"),
    _t("พึ่งบุญ", "", "Phungboon", "Pungbun"),
    _t("สมหวัง", "", "Somwang", "Somvang"),
    _t("ชื่นชม", "", "Chuenchom", "Chuencom"),
    _t("เลิศวิไล", "", "Lertwilai", "Loetwilai"),
    _t("ศักดิ์สิทธิ์", "", "Saksit", "Saksith"),
    _t("ทรัพย์สมบูรณ์", "", "Sapsomboon", "Sapsombun"),
    _t("ไชยวงศ์", "", "Chaiwong", "Chaivong"),
    _t("สิทธิโชค", "", "Sittichok", "Sitthichok"),
    _t("คงเจริญ", "", "Kongcharoen", "Khongcharoen"),
    _t("นิลสุวรรณ", "", "Ninsuwan", "Nilsuwan"),
    _t("พูลสวัสดิ์", "", "Poonsawat", "Phunsawat"),
    _t("บัวทอง", "", "Buathong", "Buatong"),
    _t("ศรีประเสริฐ", "", "Sriprasert", "Siprasoet"),
    _t("วัฒนชัย", "", "Wattanachai", "Watthanachai"),
    _t("มหาสุข", "", "Mahasuk", "Mahasook"),
    _t("เกษมสุข", "", "Kasemsuk", "Kasemsook"),
    _t("ประทุมทอง", "", "Pratumthong", "Prathumthong"),
    _t("แก้วประเสริฐ", "", "Kaewprasert", "Kaeoprasoet"),
    _t("ทองสุข", "", "Thongsuk", "Tongsuk"),
    _t("สุขประเสริฐ", "", "Sukprasert", "Sukprasoet"),
    _t("ยิ้มแย้ม", "", "Yimyaem", "Yimyam"),
    _t("รักษาศรี", "", "Raksasri", "Raksasi"),
    _t("ศรีอ่อน", "", "Sri-on", "Sion"),
    _t("ดวงดี", "", "Duangdee", "Duangdi"),
    _t("เรืองศรี", "", "Ruangsri", "Rueangsi"),
    _t("กาญจนวงศ์", "", "Kanjanawong", "Kanchanawong"),
    _t("พานิช", "", "Panich", "Phanit"),
    _t("ตั้งตระกูล", "", "Tangtrakul", "Tangtrakun"),
    _t("ลิ้มเจริญ", "", "Limcharoen", "Limjaroen"),
    _t("แซ่ตั้ง", "", "Sae-tang", "Saetang", "Sae Tang"),
    _t("แซ่ลิ้ม", "", "Sae-lim", "Saelim", "Sae Lim"),
    _t("แซ่อึ้ง", "", "Sae-ung", "Saeung"),
    _t("โชติวัฒน์", "", "Chotiwat", "Chotewat"),
    _t("อัศวเรือง", "", "Assawaruang", "Atsawarueang"),
    _t("เตชะวงศ์", "", "Techawong", "Tejawong"),
    _t("วิริยะกุล", "", "Wiriyakul", "Viriyakul"),
    _t("ธนพัฒน์", "", "Thanaphat", "Tanapat"),
    _t("สุวรรณศรี", "", "Suwansri", "Suwannasi"),
    _t("บุญประเสริฐ", "", "Boonprasert", "Bunprasoet"),
    _t("จิตรดี", "", "Jitdee", "Chitdi"),
    _t("หอมสมบัติ", "", "Homsombat", "Homsombut"),
    _t("ภักดี", "", "Pakdee", "Phakdi"),
    _t("ศรีสมบัติ", "", "Srisombat", "Sisombat"),
    _t("มณีวงศ์", "", "Maneewong", "Maniwong"),
    _t("แสงสว่าง", "", "Saengsawang", "Sangsawang"),
)

THAI_NICKNAMES: tuple[ThaiName, ...] = (
    _t("นก", "F", "Nok"),
    _t("พลอย", "F", "Ploy"),
    _t("แบงค์", "M", "Bank"),
    _t("เบียร์", "", "Beer"),
    _t("ออม", "F", "Aom", "Orm"),
    _t("แอม", "F", "Am", "Amm"),
    _t("บี", "", "Bee"),
    _t("บอย", "M", "Boy"),
    _t("กอล์ฟ", "M", "Golf"),
    _t("พิม", "F", "Pim"),
    _t("ฟ้า", "F", "Fah", "Fa"),
    _t("มิ้นท์", "F", "Mint"),
    _t("แนน", "F", "Nan", "Nann"),
    _t("นุ่น", "F", "Noon", "Nun"),
    _t("จอย", "F", "Joy"),
    _t("ขวัญ", "F", "Kwan", "Khwan"),
    _t("ต้อง", "M", "Tong"),
    _t("ต้น", "M", "Ton"),
    _t("เตย", "F", "Toey"),
    _t("โอ๊ต", "M", "Oat"),
    _t("ปอนด์", "M", "Pond"),
    _t("ฟิล์ม", "", "Film"),
    _t("อาร์ม", "M", "Arm"),
    _t("นิว", "", "New"),
    _t("เบสท์", "M", "Best"),
    _t("เจน", "F", "Jane"),
    _t("เมย์", "F", "May"),
    _t("หนิง", "F", "Ning"),
    _t("ปู", "", "Pu", "Poo"),
    _t("เล็ก", "", "Lek"),
    _t("ใหญ่", "M", "Yai"),
    _t("น้อย", "F", "Noi", "Noy"),
    _t("หญิง", "F", "Ying"),
    _t("มด", "", "Mod", "Mot"),
    _t("ออยล์", "F", "Oil"),
    _t("ตั้ม", "M", "Tum", "Tom"),
    _t("บอล", "M", "Ball"),
    _t("เกม", "M", "Game"),
    _t("พีท", "M", "Pete"),
    _t("กิ๊ฟ", "F", "Gift"),
    _t("โบว์", "F", "Bow"),
    _t("เค้ก", "F", "Cake"),
    _t("แพรว", "F", "Praew"),
    _t("เอ็ม", "M", "M", "Em"),
    _t("เจ", "M", "Jay", "J"),
    _t("ตาล", "F", "Tan", "Tarn"),
)

THAI_TITLES = {"M": "นาย", "F_married": "นาง", "F": "นางสาว"}
THAI_TITLES_EN = {"M": "Mr.", "F_married": "Mrs.", "F": "Ms."}

# Vietnamese family names and their share of the population (per cent; the rest "other").
VN_FAMILY: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 1.0),
    ("Trương", 1.0),
    ("Lâm", 0.8),
    ("Mai", 0.6),
    ("Cao", 0.5),
    ("Lương", 0.5),
    ("Trịnh", 0.5),
    ("Đoàn", 0.5),
    ("Hà", 0.4),
    ("Tạ", 0.3),
    ("Châu", 0.3),
    ("Tô", 0.3),
)

VN_MIDDLE: dict[str, tuple[tuple[str, float], ...]] = {
    "M": (
        ("Văn", 40),
        ("Minh", 12),
        ("Đức", 9),
        ("Thanh", 7),
        ("Hoàng", 6),
        ("Quốc", 6),
        ("Hữu", 6),
        ("Công", 5),
        ("Gia", 4),
        ("Tuấn", 3),
        ("Bảo", 2),
    ),
    "F": (
        ("Thị", 45),
        ("Ngọc", 12),
        ("Thu", 7),
        ("Thanh", 7),
        ("Minh", 5),
        ("Thùy", 5),
        ("Kim", 5),
        ("Hồng", 4),
        ("Phương", 4),
        ("Bảo", 3),
        ("Hoàng", 3),
    ),
}

VN_GIVEN: dict[str, tuple[str, ...]] = {
    "M": (
        "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đông", "Đức", "Hải",
        "Hiếu", "Hiệp", "Hoàng", "Hòa", "Hùng", "Huy", "Khang", "Khánh", "Khoa", "Kiên",
        "Lâm", "Long", "Lộc", "Luân", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong",
        "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thiện", "Thịnh",
        "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ",
    ),
    "F": (
        "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Hương",
        "Huyền", "Lan", "Linh", "Loan", "Ly", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung",
        "Nhi", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thư", "Thủy", "Trâm",
        "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến",
    ),
}  # fmt: skip

# How a Vietnamese is addressed by staff ("chị Lan", "anh Minh") in POS and support.
VN_ADDRESS_TERMS = {"M": ("anh", "Anh", "a."), "F": ("chị", "Chị", "c.")}

JOB_TITLES: dict[str, tuple[str, ...]] = {
    "en": (
        "Manager", "Owner", "Engineer", "Teacher", "Accountant", "Sales Executive", "Nurse",
        "Marketing Manager", "Purchasing Officer", "Director", "Freelancer", "Office Staff",
        "Doctor", "Software Developer", "HR Manager", "Architect",
    ),
    "th": (
        "ผู้จัดการ", "เจ้าของกิจการ", "วิศวกร", "ครู", "นักบัญชี", "พนักงานขาย", "พยาบาล",
        "พนักงานบริษัท", "ข้าราชการ", "ฝ่ายจัดซื้อ",
    ),
    "vi": (
        "Giám đốc", "Kế toán", "Nhân viên văn phòng", "Kỹ sư", "Giáo viên", "Trưởng phòng",
        "Chủ cửa hàng", "Nhân viên kinh doanh", "Bác sĩ", "Lập trình viên",
    ),
}  # fmt: skip

# Industry in the sales team's English vocabulary, and the sector in the local office's.
INDUSTRIES: tuple[tuple[str, str, str], ...] = (
    ("Retail", "ค้าปลีก", "Bán lẻ"),
    ("Manufacturing", "การผลิต", "Sản xuất"),
    ("Finance", "การเงิน", "Tài chính"),
    ("Healthcare", "สุขภาพ", "Y tế"),
    ("Education", "การศึกษา", "Giáo dục"),
    ("Hospitality", "การโรงแรม", "Khách sạn - Nhà hàng"),
    ("Technology", "เทคโนโลยี", "Công nghệ"),
    ("Logistics", "ขนส่ง", "Vận tải"),
    ("Government", "ราชการ", "Nhà nước"),
    ("Real Estate", "อสังหาริมทรัพย์", "Bất động sản"),
)

# Employers (Thai script, English, e-mail domain) per country; fictional.
COMPANIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "TH": (
        ("บริษัท สยามเทรดดิ้ง จำกัด", "Siam Trading Co., Ltd.", "siamtrading.co.th"),
        ("บริษัท เจ้าพระยาโลจิสติกส์ จำกัด", "Chao Phraya Logistics Co., Ltd.", "cplogistics.co.th"),
        ("บริษัท ล้านนาฟู้ดส์ จำกัด", "Lanna Foods Co., Ltd.", "lannafoods.com"),
        ("โรงพยาบาลกรุงสยาม", "Krung Siam Hospital", "krungsiamhospital.com"),
        ("บริษัท อันดามันรีสอร์ท จำกัด", "Andaman Resorts Co., Ltd.", "andamanresorts.co.th"),
        ("บริษัท ไทยสมาร์ทเทค จำกัด (มหาชน)", "Thai Smart Tech PCL", "thaismarttech.co.th"),
        ("ธนาคารรุ่งเรือง", "Rung Ruang Bank", "rrbank.co.th"),
        ("บริษัท อีสานพลาสติก จำกัด", "Isan Plastic Co., Ltd.", "isanplastic.co.th"),
        ("มหาวิทยาลัยราชพฤกษ์", "Ratchaphruek University", "rpu.ac.th"),
        ("บริษัท บางนาพร็อพเพอร์ตี้ จำกัด", "Bangna Property Co., Ltd.", "bangnaproperty.com"),
    ),
    "VN": (
        ("Công ty TNHH Minh Phát", "Minh Phat Co., Ltd", "minhphat.vn"),
        ("Công ty CP Sài Gòn Tech", "Saigon Tech JSC", "saigontech.com.vn"),
        ("Công ty TNHH Thực phẩm Hà Thành", "Ha Thanh Foods Co., Ltd", "hathanhfoods.vn"),
        ("Bệnh viện Đa khoa Hòa Bình", "Hoa Binh General Hospital", "bvhoabinh.vn"),
        ("Công ty CP Vận tải Sông Hàn", "Song Han Logistics JSC", "songhanlogistics.vn"),
        ("Ngân hàng TMCP Phương Nam Việt", "Phuong Nam Viet Bank", "pnvbank.com.vn"),
        ("Công ty TNHH Nhựa Bình Dương", "Binh Duong Plastics Co., Ltd", "bdplastics.vn"),
        ("Trường Đại học Quốc tế Sen Vàng", "Golden Lotus International University", "glu.edu.vn"),
        ("Khách sạn Biển Xanh Nha Trang", "Blue Sea Hotel Nha Trang", "bluesea-nhatrang.vn"),
        ("Công ty CP Địa ốc Thủ Đức", "Thu Duc Real Estate JSC", "thuducland.vn"),
    ),
}

COMPANY_INDUSTRY = (0, 7, 0, 3, 5, 6, 2, 1, 4, 9)
"""The industry (index into INDUSTRIES) of each company, same order for both countries."""

EMAIL_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "TH": (
        ("gmail.com", 56),
        ("hotmail.com", 15),
        ("yahoo.com", 7),
        ("outlook.com", 6),
        ("icloud.com", 6),
        ("yahoo.co.th", 4),
        ("live.com", 3),
        ("outlook.co.th", 3),
    ),
    "VN": (
        ("gmail.com", 74),
        ("yahoo.com", 8),
        ("outlook.com", 5),
        ("icloud.com", 5),
        ("hotmail.com", 3),
        ("yahoo.com.vn", 3),
        ("fpt.vn", 2),
    ),
}

DOMAIN_TYPOS: dict[str, tuple[str, ...]] = {
    "gmail.com": ("gmial.com", "gmai.com", "gmail.co", "gmaill.com", "gamil.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com"),
    "yahoo.com": ("yaho.com", "yahoo.co", "yahooo.com"),
    "outlook.com": ("outlok.com", "outlook.co"),
    "icloud.com": ("icoud.com", "icloud.co"),
}

# Digits appended to an e-mail's local part when a person's first choice is taken.
EMAIL_SUFFIXES: tuple[str, ...] = tuple(
    str(n) for n in (87, 99, 1, 89, 2, 90, 88, 123, 92, 85, 91, 11, 95, 86, 93, 7, 94, 84, 96)
)

_NEARBY_KEYS = {
    "a": "sqwz", "b": "vngh", "c": "xvdf", "d": "sfer", "e": "wrd", "f": "dgrt", "g": "fhty",
    "h": "gjyu", "i": "uok", "j": "hkui", "k": "jlio", "l": "kop", "m": "njk", "n": "bmhj",
    "o": "ipl", "p": "ol", "q": "wa", "r": "etf", "s": "adwe", "t": "ryg", "u": "yij",
    "v": "cbf", "w": "qes", "x": "zcs", "y": "tuh", "z": "xas",
}  # fmt: skip
# Thai consonants and vowels that are typed by mistake for one another (shared shapes, keys).
_THAI_CONFUSED = {
    "ส": "ศษ", "ศ": "สษ", "ษ": "ศส", "ท": "ธถ", "ธ": "ทถ", "พ": "ภผ", "ภ": "พถ", "ผ": "ฝพ",
    "ด": "ค", "ค": "ดต", "บ": "ป", "ป": "บ", "ร": "ล", "ล": "ร", "น": "ณ", "ณ": "น",
    "ช": "ซฃ", "ซ": "ช", "ย": "ญ", "ญ": "ย", "ว": "ง", "ง": "ว", "ั": "ิ", "ิ": "ี", "ี": "ิ",
    "่": "้", "้": "่", "ุ": "ู", "ู": "ุ", "า": "ำ", "เ": "แ", "แ": "เ",
}  # fmt: skip


def typo(text: str, rng: random.Random, edits: int = 1) -> str:
    """``text`` with ``edits`` typing mistakes, the ones people make.

    A neighbouring key, a dropped letter, two letters swapped, a letter typed twice (for Thai
    script: a confusable letter or tone mark). The first letter is kept: people rarely get it
    wrong.
    """
    for _ in range(edits):
        if len(text) < 3:
            return text
        position = rng.randrange(1, len(text) - 1)
        kind = rng.randrange(4)
        ch = text[position]
        if kind == 0:
            options = _NEARBY_KEYS.get(ch.lower()) or _THAI_CONFUSED.get(ch)
            if options:
                new = options[rng.randrange(len(options))]
                text = (
                    text[:position] + (new.upper() if ch.isupper() else new) + text[position + 1 :]
                )
                continue
            kind = 1
        if kind == 1 and text[position] != " ":
            text = text[:position] + text[position + 1 :]
        elif kind == 2 and text[position + 1] != " " and ch != " ":
            text = text[:position] + text[position + 1] + ch + text[position + 2 :]
        else:
            text = text[:position] + ch + text[position:]
    return text


@lru_cache(maxsize=65536)
def strip_diacritics(text: str) -> str:
    """Vietnamese without its marks, as typed on a keyboard without a Vietnamese layout."""
    decomposed = unicodedata.normalize("NFD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("đ", "d").replace("Đ", "D")


def to_cp1258_text(text: str) -> str:
    """``text`` in the form Windows-1258 can hold: base letters plus combining tone marks.

    cp1258 has â, ê, ô, ơ, ư, ă, đ and the five tone marks as separate characters, not every
    precomposed Vietnamese letter; decoding the file and normalizing to NFC gives ``text`` back.
    """
    if text.isascii():
        return text
    return "".join([_CP1258.get(ch) or _cp1258_char(ch) for ch in text])


_CP1258: dict[str, str] = {}


def _cp1258_char(ch: str) -> str:
    if _in_cp1258(ch):
        form = ch
    else:
        parts = unicodedata.normalize("NFD", ch)
        base, marks = parts[0], parts[1:]
        for mark in marks:  # fold in the one mark cp1258 has precomposed (â, ê, ô, ơ, ư, ă)
            joined = unicodedata.normalize("NFC", base + mark)
            if len(joined) == 1 and _in_cp1258(joined):
                base, marks = joined, marks.replace(mark, "", 1)
                break
        form = base + marks
    _CP1258[ch] = form
    return form


def _in_cp1258(ch: str) -> bool:
    try:
        ch.encode("cp1258")
    except UnicodeEncodeError:
        return False
    return True
