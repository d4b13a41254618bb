import pytest

from c360.standardize import EMPTY, full_name_parts, name, name_key, name_tokens_key
from c360.standardize.romanization import romanize_thai


@pytest.mark.parametrize(
    ("raw", "value", "title", "hint"),
    [
        ("นายสมชาย ใจดี", "สมชาย ใจดี", "นาย", "male"),
        ("นาย สมชาย ใจดี", "สมชาย ใจดี", "นาย", "male"),
        ("นางสาวสมหญิง รักไทย", "สมหญิง รักไทย", "นางสาว", "female"),
        ("น.ส.สมหญิง รักไทย", "สมหญิง รักไทย", "นางสาว", "female"),
        ("นางมาลี ดีใจ", "มาลี ดีใจ", "นาง", "female"),
        ("ด.ช.ธนพล ศรีสุข", "ธนพล ศรีสุข", "เด็กชาย", "male"),
        ("เด็กหญิงมาลี ดีใจ", "มาลี ดีใจ", "เด็กหญิง", "female"),
        ("ด.ญ. มาลี ดีใจ", "มาลี ดีใจ", "เด็กหญิง", "female"),
        ("คุณสมชาย ใจดี", "สมชาย ใจดี", "คุณ", None),
        ("ดร.สมศักดิ์ ทองดี", "สมศักดิ์ ทองดี", "ดร.", None),
        ("Mr. John Smith", "John Smith", "Mr", "male"),
        ("MR JOHN SMITH", "John Smith", "Mr", "male"),
        ("Mrs Jane Doe", "Jane Doe", "Mrs", "female"),
        ("ms. jane doe", "Jane Doe", "Ms", "female"),
        ("Miss Malee Jaidee", "Malee Jaidee", "Miss", "female"),
        ("Dr Somchai Jaidee", "Somchai Jaidee", "Dr", None),
        ("Prof. Nguyen Van An", "Nguyen Van An", "Prof", None),
        ("Mr.John Smith", "John Smith", "Mr", "male"),
        ("K.Somchai", "Somchai", "Khun", None),
        ("Khun Somchai", "Somchai", "Khun", None),
        ("Ông Nguyễn Văn Nam", "Nguyễn Văn Nam", "Ông", "male"),
        ("Bà Lê Thị Hoa", "Lê Thị Hoa", "Bà", "female"),
        ("Chị Lan", "Lan", "Chị", "female"),
        ("Anh Nguyễn Văn Tuấn", "Nguyễn Văn Tuấn", "Anh", "male"),
        ("Cô Trần Thị Mai", "Trần Thị Mai", "Cô", "female"),
        ("Dr. Mrs. Jane Doe", "Jane Doe", "Dr Mrs", "female"),
    ],
)
def test_titles_are_removed_and_hint_at_gender(
    raw: str, value: str, title: str, hint: str | None
) -> None:
    result = name(raw)
    assert result.value == value
    assert result.extra["title"] == title
    assert result.extra.get("gender_hint") == hint


@pytest.mark.parametrize(
    "raw",
    [
        "Anh Tuấn",  # Anh is also a given name: no family name follows, so no title
        "คุณากร ศรีสุข",  # a name starting with the letters of คุณ
        "Ong Ah Kow",  # Ong without its diacritic is a family name
        "Mrinal Sen",
        "Drew Barrymore",
    ],
)
def test_names_that_only_look_like_titles_are_kept(raw: str) -> None:
    result = name(raw)
    assert result.value == raw
    assert "title" not in result.extra


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("NGUYEN VAN AN", "Nguyen Van An"),
        ("nguyễn  văn an", "Nguyễn Văn An"),
        ("NGUYỄN VĂN AN", "Nguyễn Văn An"),
        ("somchai jaidee", "Somchai Jaidee"),
        ("o'brien", "O'Brien"),
        ("mary-jane watson", "Mary-Jane Watson"),
        ("McDonald", "McDonald"),  # mixed case is kept as typed
        ("DiCaprio", "DiCaprio"),
        ("  สมชาย   ใจดี ", "สมชาย ใจดี"),
        ("Nguye\u0302\u0303n Văn An", "Nguyễn Văn An"),
    ],
)
def test_latin_names_typed_in_one_case_get_proper_case(raw: str, value: str) -> None:
    assert name(raw).value == value


def test_a_nickname_in_brackets_is_set_aside() -> None:
    result = name("Somchai (Tom) Jaidee")
    assert result.value == "Somchai Jaidee"
    assert result.extra["nickname"] == "Tom"
    assert name("สมชาย (ต้อม) ใจดี").extra["nickname"] == "ต้อม"


@pytest.mark.parametrize("raw", ["Mr.", "นาย", "1234", "---", "Ông"])
def test_no_name_left_is_invalid(raw: str) -> None:
    assert name(raw).flag == "invalid_name"
    assert name(raw).value is None


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_is_empty(raw: object) -> None:
    assert name(raw) == EMPTY


@pytest.mark.parametrize(
    ("raw", "first", "middle", "last"),
    [
        ("Nguyễn Văn An", "An", "Văn", "Nguyễn"),
        ("Nguyen Van An", "An", "Van", "Nguyen"),
        ("Trần Thị Thu Hà", "Hà", "Thị Thu", "Trần"),
        ("Lê Lợi", "Lợi", None, "Lê"),
        ("Đặng Thùy Trâm", "Trâm", "Thùy", "Đặng"),  # Đặng: Vietnamese letters
        ("An Nguyen", "An", None, "Nguyen"),  # written given name first
        ("สมชาย ใจดี", "สมชาย", None, "ใจดี"),
        ("นายสมชาย ใจดี", "สมชาย", None, "ใจดี"),
        ("สมชาย ณ อยุธยา", "สมชาย", None, "ณ อยุธยา"),
        ("John Ronald Smith", "John", "Ronald", "Smith"),
        ("Ludwig van Beethoven", "Ludwig", None, "van Beethoven"),
        ("Madonna", "Madonna", None, None),
    ],
)
def test_name_parts(raw: str, first: str, middle: str | None, last: str | None) -> None:
    expected = {"first_name": first, "middle_name": middle, "last_name": last}
    assert full_name_parts(raw) == expected
    extra = name(raw).extra
    assert {part: extra.get(part) for part in expected} == expected


def test_the_order_option_overrides_detection() -> None:
    assert full_name_parts("Nguyen Van An", order="given_first")["first_name"] == "Nguyen"
    assert full_name_parts("Wang Xiao Ming", order="family_first") == {
        "first_name": "Ming",
        "middle_name": "Xiao",
        "last_name": "Wang",
    }
    with pytest.raises(ValueError, match="order"):
        full_name_parts("Nguyen Van An", order="sideways")


def test_empty_parts() -> None:
    assert full_name_parts(None) == {"first_name": None, "middle_name": None, "last_name": None}


@pytest.mark.parametrize(
    "spelling",
    ["Nguyễn Văn An", "Nguyen Van An", "NGUYEN VAN AN", "nguyễn  văn an", "Ông Nguyễn Văn An"],
)
def test_vietnamese_spellings_share_a_key(spelling: str) -> None:
    assert name_key(spelling) == name_key("Nguyen Van An")
    assert name(spelling).extra["match_key"] == name_key("Nguyen Van An")


def test_the_key_of_d_with_stroke_is_d() -> None:
    assert name_key("Đặng Đức") == name_key("Dang Duc")


def test_thai_script_meets_its_romanizations() -> None:
    key = name_key("สมชาย ใจดี")
    for spelling in [
        "Somchai Jaidee",
        "Somchai Chaidee",
        "Somchai Jaidi",
        "SOMCHAI JAIDEE",
        "นายสมชาย ใจดี",
    ]:
        assert name_key(spelling) == key


def test_tokens_key_ignores_order() -> None:
    assert name_tokens_key("An Van Nguyen") == name_tokens_key("Nguyễn Văn An")
    assert name_key("An Van Nguyen") != name_key("Nguyễn Văn An")
    assert name_tokens_key("Jaidee Somchai") == name_tokens_key("สมชาย ใจดี")
    assert name("Jaidee Somchai").extra["tokens_key"] == name_tokens_key("สมชาย ใจดี")


# Real Thai names and the romanizations they are written with (RTGS and informal).
THAI_NAMES = [
    ("สมชาย", ["Somchai"]),
    ("ใจดี", ["Jaidee", "Chaidee", "Jaidi"]),
    ("สมศักดิ์", ["Somsak"]),
    ("ประเสริฐ", ["Prasert", "Prasoet"]),
    ("วิไลวรรณ", ["Wilaiwan"]),
    ("สุภาพร", ["Supaporn", "Suphaphon"]),
    ("ธนพล", ["Thanapon", "Thanaphon", "Thanapol"]),
    ("ศรีสุข", ["Srisuk", "Sisuk"]),
    ("กาญจนา", ["Kanchana", "Kanjana"]),
    ("พงษ์ศักดิ์", ["Pongsak", "Phongsak"]),
    ("ณัฐพล", ["Nattapon", "Natthaphon", "Nattapol"]),
    ("ทองดี", ["Thongdee"]),
    ("สมหญิง", ["Somying"]),
    ("วิชัย", ["Wichai", "Vichai"]),
    ("สุรชัย", ["Surachai"]),
    ("อนุชา", ["Anucha"]),
    ("ปิยะนุช", ["Piyanuch", "Piyanut"]),
    ("นภาพร", ["Napaporn", "Naphaphon"]),
    ("จันทร์เพ็ญ", ["Chanpen", "Janpen"]),
    ("บุญมี", ["Boonmee", "Bunmi"]),
    ("ศิริพร", ["Siriporn", "Siriphon"]),
    ("รัตนา", ["Rattana", "Ratana"]),
    ("ชัยวัฒน์", ["Chaiwat", "Chaiwath"]),
    ("ธีรวัฒน์", ["Teerawat", "Thirawat", "Theerawat"]),
    ("กิตติศักดิ์", ["Kittisak"]),
    ("อรุณี", ["Arunee"]),
    ("มาลี", ["Malee", "Mali"]),
    ("ทองคำ", ["Thongkham", "Tongkam"]),
    ("แก้วมณี", ["Kaewmanee", "Kaeomani"]),
    ("สุดารัตน์", ["Sudarat", "Sudarath"]),
    ("ปัทมา", ["Pattama", "Patama"]),
    ("ธนากร", ["Thanakorn", "Tanakorn"]),
    ("วีระพงษ์", ["Weerapong", "Wiraphong"]),
    ("สุวรรณ", ["Suwan"]),
    ("เจริญ", ["Charoen", "Jaroen", "Charern"]),
    ("ศักดิ์ชัย", ["Sakchai"]),
    ("พิมพ์ใจ", ["Pimjai", "Phimchai"]),
    ("อภิชาติ", ["Apichat", "Aphichart"]),
    ("นิตยา", ["Nittaya"]),
    ("พรทิพย์", ["Pornthip", "Porntip", "Phonthip"]),
    ("ชุติมา", ["Chutima"]),
    ("ศุภชัย", ["Supachai", "Suppachai"]),
    ("อัญชลี", ["Anchalee", "Unchalee"]),
    ("ไพโรจน์", ["Pairoj", "Phairot"]),
    ("สมบัติ", ["Sombat", "Sombut"]),
    ("อุไรวรรณ", ["Uraiwan"]),
    ("นันทนา", ["Nantana", "Nanthana"]),
    ("ยุทธนา", ["Yuttana", "Yutthana"]),
    ("วรวุฒิ", ["Worawut", "Worawoot"]),
    ("อรทัย", ["Orathai", "Oratai"]),
    ("ชลธิชา", ["Chonticha", "Cholticha"]),
    ("เฉลิม", ["Chalerm", "Chaloem"]),
    ("แก้ว", ["Kaew", "Keaw"]),
    ("ศรีสวัสดิ์", ["Srisawat", "Sisawat"]),
    ("ปรีชา", ["Preecha", "Pricha"]),
    ("มณีรัตน์", ["Maneerat", "Manirat"]),
    ("จิราพร", ["Jiraporn", "Chiraphon"]),
    ("สมพร", ["Somporn", "Somphon"]),
    ("วันเพ็ญ", ["Wanpen", "Wanphen"]),
    ("รุ่งโรจน์", ["Rungroj", "Rungrot"]),
    ("ดวงใจ", ["Duangjai", "Duangchai"]),
    ("สายสุนีย์", ["Saisunee"]),
    ("เพ็ญศรี", ["Pensri", "Phensi"]),
    ("ณัฐวุฒิ", ["Nattawut", "Natthawut"]),
    ("ภูมิใจ", ["Phumjai"]),
    ("เกียรติศักดิ์", ["Kiattisak", "Kiatsak"]),
    ("ชาตรี", ["Chatree", "Chatri"]),
    ("กฤษดา", ["Kritsada", "Kridsada"]),
    ("สมใจ", ["Somjai"]),
    ("บุญเรือง", ["Boonruang", "Bunrueang"]),
    ("ประภา", ["Prapa"]),
    ("วิมล", ["Wimon", "Wimol", "Vimol"]),
    ("สุนทร", ["Sunthorn", "Soonthorn"]),
    ("นงลักษณ์", ["Nongluck", "Nongluk", "Nonglak"]),
    ("ลำดวน", ["Lamduan"]),
    ("สมเกียรติ", ["Somkiat", "Somkiet"]),
    ("อำนาจ", ["Amnat", "Amnaj"]),
    ("ธวัชชัย", ["Thawatchai", "Tawatchai"]),
    ("บุญชัย", ["Boonchai"]),
]
# The romanizations that do not meet, and why: "u" written for the short a of ั
# (Unchalee, Sombut, Nongluck); a Pali vowel said in one word and silent in another
# (ภูมิใจ is phum-jai, ภูมิพล phu-mi-phon); a letter read twice (กฤษดา is krit-sa-da,
# เกียรติศักดิ์ kiat-ti-sak but also written Kiatsak).
KNOWN_MISSES = {
    ("อัญชลี", "Unchalee"),
    ("สมบัติ", "Sombut"),
    ("ภูมิใจ", "Phumjai"),
    ("เกียรติศักดิ์", "Kiatsak"),
    ("กฤษดา", "Kritsada"),
    ("กฤษดา", "Kridsada"),
    ("นงลักษณ์", "Nongluck"),
    ("นงลักษณ์", "Nongluk"),
}


def test_thai_names_meet_their_romanizations() -> None:
    pairs = [(thai, latin) for thai, latins in THAI_NAMES for latin in latins]
    missed = {(thai, latin) for thai, latin in pairs if name_key(thai) != name_key(latin)}
    assert missed == KNOWN_MISSES
    assert len(THAI_NAMES) >= 30
    assert 1 - len(missed) / len(pairs) > 0.94


def test_each_thai_name_meets_its_most_common_romanization() -> None:
    for thai, latins in THAI_NAMES:
        assert name_key(thai) == name_key(latins[0]) or (thai, latins[0]) in KNOWN_MISSES


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Somchai", "Somsak"),
        ("Somchai", "Somying"),
        ("Somchai", "Sakchai"),
        ("Supaporn", "Siriporn"),
        ("Thanapon", "Thanakorn"),
        ("Wichai", "Surachai"),
        ("Kanchana", "Kanokwan"),
        ("Prasert", "Prasit"),
        ("Nattapon", "Nattawut"),
        ("Anucha", "Anusorn"),
        ("Pornthip", "Pornpimol"),
        ("Jaidee", "Jaisuk"),
        ("Nana", "Nan"),
        ("Malee", "Mali Jaidee"),
        ("สมชาย", "สมศักดิ์"),
        ("สมชาย ใจดี", "สมชาย ใจเย็น"),
        ("Nguyen Van An", "Nguyen Van Anh"),
        ("Tran Thi Lan", "Tran Thi Lam"),
    ],
)
def test_distinct_names_do_not_meet(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def test_thai_romanization_follows_rtgs_closely() -> None:
    assert romanize_thai("สมชาย") == "somchai"
    assert romanize_thai("วิไลวรรณ") == "wilaiwan"
    assert romanize_thai("สุภาพร") == "suphaphon"
    assert romanize_thai("เจริญ") == "charoen"
    assert romanize_thai("ประเสริฐ") == "prasoet"
    assert romanize_thai("ศรีสวัสดิ์") == "sisawat"
    assert romanize_thai("แก้ว") == "kaeo"
    assert romanize_thai("จันทร์เพ็ญ") == "chanphen"
    assert romanize_thai("เพชร") == "phet"
    assert romanize_thai("อยุธยา") == "ayutya"
    assert romanize_thai("hello") == ""


def test_changing_a_result_does_not_change_the_next_one() -> None:
    first = name("นายสมชาย ใจดี")
    first.extra["match_key"] = "changed"
    assert name("นายสมชาย ใจดี").extra["match_key"] == "smchai chaidi"
