import pytest

from c360.standardize import EMPTY, country, gender


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thailand", "TH"),
        ("ไทย", "TH"),
        ("ประเทศไทย", "TH"),
        ("THA", "TH"),
        ("th", "TH"),
        (" thailand ", "TH"),
        ("Thái Lan", "TH"),
        ("Việt Nam", "VN"),
        ("Viet Nam", "VN"),
        ("VIETNAM", "VN"),
        ("VN", "VN"),
        ("VNM", "VN"),
        ("เวียดนาม", "VN"),
        ("Lao PDR", "LA"),
        ("Burma", "MM"),
        ("พม่า", "MM"),
        ("Campuchia", "KH"),
        ("Singapore", "SG"),
        ("Malaysia", "MY"),
        ("MY", "MY"),
        ("my", "MY"),
        ("Mỹ", "US"),
        ("U.S.A.", "US"),
        ("United States of America", "US"),
        ("สหรัฐอเมริกา", "US"),
        ("Hoa Kỳ", "US"),
        ("UK", "GB"),
        ("England", "GB"),
        ("อังกฤษ", "GB"),
        ("Korea, Republic of", "KR"),
        ("Hàn Quốc", "KR"),
        ("เกาหลีใต้", "KR"),
        ("日本", "JP"),
        ("ญี่ปุ่น", "JP"),
        ("Nhật Bản", "JP"),
        ("中国", "CN"),
        ("Trung Quốc", "CN"),
        ("Hong Kong SAR", "HK"),
        ("Đài Loan", "TW"),
        ("Ấn Độ", "IN"),
        ("Úc", "AU"),
        ("Deutschland", "DE"),
        ("Đức", "DE"),
        ("Pháp", "FR"),
        ("Nga", "RU"),  # Vietnamese for Russia
        ("NGA", "NG"),  # the alpha-3 code of Nigeria
        ("Czech Republic", "CZ"),
        ("Türkiye", "TR"),
        ("Kenya", "KE"),  # not in the package's table: libphonenumber's names
        ("Brasil", "BR"),
        ("ケニア", "KE"),
    ],
)
def test_country_names_and_codes(raw: str, expected: str) -> None:
    result = country(raw)
    assert result.value == expected
    assert result.ok


def test_countries_in_the_table_carry_their_english_name() -> None:
    assert country("ไทย").extra == {"name": "Thailand"}
    assert country("Kenya").extra == {}


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "ZZZ", "123", "Middle Earth"])
def test_unknown_countries_are_flagged(raw: str) -> None:
    assert country(raw).flag == "unknown_country"
    assert country(raw).value is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M", "male"),
        ("m", "male"),
        ("Male", "male"),
        ("MR.", "male"),
        ("ชาย", "male"),
        ("ช", "male"),
        ("เพศชาย", "male"),
        ("นาย", "male"),
        ("Nam", "male"),
        ("ông", "male"),
        (1, "male"),
        ("1", "male"),
        (1.0, "male"),
        ("F", "female"),
        ("female", "female"),
        ("Mrs", "female"),
        ("Ms.", "female"),
        ("หญิง", "female"),
        ("ญ", "female"),
        ("น.ส.", "female"),
        ("ด.ญ.", "female"),
        ("nữ", "female"),
        ("Nu", "female"),
        ("bà", "female"),
        (2, "female"),
        ("other", "other"),
        ("Non-binary", "other"),
        ("khác", "other"),
        ("อื่นๆ", "other"),
        ("อื่น ๆ", "other"),
        ("เพศทางเลือก", "other"),
    ],
)
def test_genders_in_three_languages(raw: object, expected: str) -> None:
    assert gender(raw).value == expected


@pytest.mark.parametrize(
    "raw", ["unknown", "U", "ไม่ระบุ", "không rõ", "prefer not to say", 0, 9, None, ""]
)
def test_unknown_gender_is_empty_not_flagged(raw: object) -> None:
    assert gender(raw) == EMPTY


@pytest.mark.parametrize("raw", ["yes", "7", "alien", True])
def test_other_vocabulary_is_flagged(raw: object) -> None:
    assert gender(raw).flag == "unknown_gender"
