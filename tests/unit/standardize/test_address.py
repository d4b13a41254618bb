import csv
from importlib import resources

import pytest

from c360.standardize import EMPTY, address, postal_code, province


@pytest.mark.parametrize(
    "raw",
    [
        "กทม.",
        "กทม",
        "กรุงเทพฯ",
        "กรุงเทพ",
        "กรุงเทพมหานคร",
        "Bangkok",
        "BANGKOK",
        "BKK",
        "Krung Thep",
        "Krung Thep Maha Nakhon",
        "จังหวัดกรุงเทพมหานคร",
        "Bangkok Metropolis",
    ],
)
def test_bangkok(raw: str) -> None:
    result = province(raw)
    assert result.value == "Bangkok"
    assert result.extra == {"country": "TH", "code": "TH-10", "local_name": "กรุงเทพมหานคร"}


@pytest.mark.parametrize(
    "raw",
    [
        "จ.เชียงใหม่",
        "จ. เชียงใหม่",
        "เชียงใหม่",
        "จังหวัดเชียงใหม่",
        "Chiang Mai",
        "Chiangmai",
        "Chiengmai",
        "Chiang Mai Province",
        "CHIANG MAI",
    ],
)
def test_chiang_mai(raw: str) -> None:
    assert province(raw).value == "Chiang Mai"
    assert province(raw).extra["code"] == "TH-50"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Korat", "Nakhon Ratchasima"),
        ("โคราช", "Nakhon Ratchasima"),
        ("Nakorn Ratchasima", "Nakhon Ratchasima"),  # through the sound key
        ("Ayutthaya", "Phra Nakhon Si Ayutthaya"),
        ("อยุธยา", "Phra Nakhon Si Ayutthaya"),
        ("Nakhon Sri Thammarat", "Nakhon Si Thammarat"),
        ("Prachuab Khiri Khan", "Prachuap Khiri Khan"),
        ("Samut Prakarn", "Samut Prakan"),
        ("Chonburi", "Chon Buri"),
        ("ชลบุรี", "Chon Buri"),
        ("Phang Nga", "Phangnga"),
        ("ภูเก็ต", "Phuket"),
        ("บึงกาฬ", "Bueng Kan"),
        ("Sisaket", "Si Sa Ket"),
        ("Ubon", "Ubon Ratchathani"),
    ],
)
def test_thai_provinces_by_other_names(raw: str, expected: str) -> None:
    assert province(raw).value == expected
    assert province(raw).extra["country"] == "TH"


@pytest.mark.parametrize(
    "raw",
    [
        "TP.HCM",
        "TP HCM",
        "TPHCM",
        "Tp. Hồ Chí Minh",
        "Thành phố Hồ Chí Minh",
        "Hồ Chí Minh",
        "Ho Chi Minh City",
        "Ho Chi Minh",
        "HCMC",
        "HCM",
        "Sài Gòn",
        "Saigon",
        "Sai Gon",
    ],
)
def test_ho_chi_minh_city(raw: str) -> None:
    result = province(raw)
    assert result.value == "Ho Chi Minh City"
    assert result.extra == {"country": "VN", "code": "VN-SG", "local_name": "Hồ Chí Minh"}


@pytest.mark.parametrize(
    ("raw", "expected", "code"),
    [
        ("Hà Nội", "Hanoi", "VN-HN"),
        ("Ha Noi", "Hanoi", "VN-HN"),
        ("Hanoi", "Hanoi", "VN-HN"),
        ("HN", "Hanoi", "VN-HN"),
        ("TP. Hà Nội", "Hanoi", "VN-HN"),
        ("Đà Nẵng", "Da Nang", "VN-DN"),
        ("Da Nang", "Da Nang", "VN-DN"),
        ("Thành phố Cần Thơ", "Can Tho", "VN-CT"),
        ("Tỉnh Khánh Hoà", "Khanh Hoa", "VN-34"),  # old-style tone placement
        ("Khánh Hòa", "Khanh Hoa", "VN-34"),
        ("Đắk Lắk", "Dak Lak", "VN-33"),
        ("Daklak", "Dak Lak", "VN-33"),
        ("Thừa Thiên Huế", "Thua Thien Hue", "VN-26"),
        ("Huế", "Thua Thien Hue", "VN-26"),
    ],
)
def test_vietnamese_provinces(raw: str, expected: str, code: str) -> None:
    result = province(raw)
    assert result.value == expected
    assert result.extra["code"] == code
    assert "merged_into" not in result.extra


@pytest.mark.parametrize(
    ("raw", "expected", "merged_into"),
    [
        ("Bình Dương", "Binh Duong", "Ho Chi Minh City"),
        ("Tỉnh Bình Dương", "Binh Duong", "Ho Chi Minh City"),
        ("Bà Rịa - Vũng Tàu", "Ba Ria-Vung Tau", "Ho Chi Minh City"),
        ("BR-VT", "Ba Ria-Vung Tau", "Ho Chi Minh City"),
        ("Quảng Nam", "Quang Nam", "Da Nang"),
        ("Hải Dương", "Hai Duong", "Hai Phong"),
        ("Hà Giang", "Ha Giang", "Tuyen Quang"),
        ("Kiên Giang", "Kien Giang", "An Giang"),
        ("Long An", "Long An", "Tay Ninh"),
    ],
)
def test_vietnamese_provinces_merged_in_2025_say_where(
    raw: str, expected: str, merged_into: str
) -> None:
    result = province(raw)
    assert result.value == expected
    assert result.extra["merged_into"] == merged_into


def test_the_province_table_is_complete_and_consistent() -> None:
    text = resources.files("c360.standardize").joinpath("data/provinces.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    thai = [row for row in rows if row["country"] == "TH"]
    vietnamese = [row for row in rows if row["country"] == "VN"]
    assert len(thai) == 77
    assert len(vietnamese) == 63
    assert len({row["code"] for row in rows}) == 140
    survivors = {row["name"] for row in vietnamese if not row["merged_into"]}
    assert len(survivors) == 34  # the provinces and cities of Vietnam since 1 July 2025
    assert {row["merged_into"] for row in vietnamese if row["merged_into"]} <= survivors
    for row in rows:  # every name and alias finds its own province
        for spelling in [row["name"], row["local_name"], *filter(None, row["aliases"].split(";"))]:
            assert province(spelling, country=row["country"]).extra["code"] == row["code"], spelling


def test_the_country_option_is_a_preference_not_a_filter() -> None:
    # One file often holds customers of both countries: the home country is searched first.
    assert province("Bangkok", country="VN").value == "Bangkok"
    assert province("TP.HCM", country="TH").value == "Ho Chi Minh City"
    assert province("Hà Nội", country="vn").value == "Hanoi"


@pytest.mark.parametrize("raw", ["Atlantis", "Quận 1", "12345", "Singapore", "xyz"])
def test_unknown_provinces_are_flagged(raw: str) -> None:
    assert province(raw).flag == "unknown_province"


@pytest.mark.parametrize(
    ("raw", "value", "extra"),
    [
        ("10110", "10110", {"country": "TH"}),  # Bangkok or Samut Prakan
        (50200, "50200", {"country": "TH", "province_code": "TH-50", "province": "Chiang Mai"}),
        ("11000", "11000", {"country": "TH", "province_code": "TH-12", "province": "Nonthaburi"}),
        (
            "13000",
            "13000",
            {"country": "TH", "province_code": "TH-14", "province": "Phra Nakhon Si Ayutthaya"},
        ),
        (" 83 000 ", "83000", {"country": "TH", "province_code": "TH-83", "province": "Phuket"}),
        ("๕๐๒๐๐", "50200", {"country": "TH", "province_code": "TH-50", "province": "Chiang Mai"}),
    ],
)
def test_thai_postal_codes(raw: object, value: str, extra: dict[str, str]) -> None:
    result = postal_code(raw, country="TH")
    assert result.value == value
    assert result.extra == extra


@pytest.mark.parametrize("raw", ["1011", "101100", "99999", "19000", "00000", "abcde", "10-11"])
def test_invalid_thai_postal_codes(raw: str) -> None:
    assert postal_code(raw, country="TH").flag == "invalid_postal_code"


@pytest.mark.parametrize("raw", ["700000", "70000", "100000", "10000"])
def test_vietnamese_postal_codes_have_five_or_six_digits(raw: str) -> None:
    assert postal_code(raw, country="VN").value == raw


@pytest.mark.parametrize("raw", ["7000", "7000000", "00000", "abcde"])
def test_invalid_vietnamese_postal_codes(raw: str) -> None:
    assert postal_code(raw, country="VN").flag == "invalid_postal_code"


def test_other_postal_codes_are_checked_loosely() -> None:
    assert postal_code("sw1a 1aa").value == "SW1A 1AA"
    assert postal_code("12345-6789", country="US").value == "12345-6789"
    assert postal_code("abc").flag == "invalid_postal_code"
    assert postal_code(True).flag == "invalid_postal_code"
    assert postal_code(None) == EMPTY


def test_thai_bangkok_address() -> None:
    raw = "123/45  ถ.สุขุมวิท แขวงคลองเตย เขตคลองเตย กรุงเทพฯ 10110"
    result = address(raw)
    assert result.value == "123/45 ถ.สุขุมวิท แขวงคลองเตย เขตคลองเตย กรุงเทพฯ 10110"
    assert result.extra == {
        "house_number": "123/45",
        "street": "สุขุมวิท",
        "subdistrict": "คลองเตย",
        "district": "คลองเตย",
        "province": "Bangkok",
        "province_code": "TH-10",
        "country": "TH",
        "postal_code": "10110",
    }


def test_thai_provincial_address_in_thai() -> None:
    result = address("บ้านเลขที่ 9 หมู่ 4 ต.สุเทพ อ.เมือง จ.เชียงใหม่ 50200")
    assert result.extra == {
        "house_number": "9",
        "moo": "4",
        "subdistrict": "สุเทพ",
        "district": "เมือง",
        "province": "Chiang Mai",
        "province_code": "TH-50",
        "country": "TH",
        "postal_code": "50200",
    }


def test_thai_address_with_soi_and_glued_markers() -> None:
    result = address("88/8 ซอยลาดพร้าว 5 ถนนลาดพร้าว แขวงจอมพล เขตจตุจักร กรุงเทพมหานคร 10900")
    assert result.extra["alley"] == "ลาดพร้าว 5"
    assert result.extra["street"] == "ลาดพร้าว"
    assert result.extra["subdistrict"] == "จอมพล"
    assert result.extra["district"] == "จตุจักร"
    assert result.extra["province"] == "Bangkok"


def test_thai_address_in_latin_letters() -> None:
    result = address("99 Moo 3, Tambon X, Amphoe Y, Chiang Mai 50200")
    assert result.extra == {
        "house_number": "99",
        "moo": "3",
        "subdistrict": "X",
        "district": "Y",
        "province": "Chiang Mai",
        "province_code": "TH-50",
        "country": "TH",
        "postal_code": "50200",
    }
    english = address("1 Sukhumvit Road, Khlong Toei District, Bangkok 10110")
    assert english.extra["house_number"] == "1"
    assert english.extra["street"] == "Sukhumvit"
    assert english.extra["district"] == "Khlong Toei"
    assert "postal_code_mismatch" not in english.extra


def test_a_thai_postal_code_of_another_province_is_marked() -> None:
    assert address("1 Sukhumvit Road, Bangkok 50200").extra["postal_code_mismatch"] is True


@pytest.mark.parametrize(
    "raw",
    [
        "12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, TP.HCM",
        "12 Nguyễn Huệ, P. Bến Nghé, Q.1, TP.HCM",
        "12 Nguyễn Huệ,P.Bến Nghé,Q.1,Tp. Hồ Chí Minh",
    ],
)
def test_vietnamese_address(raw: str) -> None:
    result = address(raw)
    assert result.extra == {
        "house_number": "12",
        "street": "Nguyễn Huệ",
        "subdistrict": "Bến Nghé",
        "district": "1",
        "province": "Ho Chi Minh City",
        "province_code": "VN-SG",
        "country": "VN",
    }


def test_cleaned_value_has_one_space_after_commas() -> None:
    assert address("12 Nguyễn Huệ,P.Bến Nghé ,Q.1").value == "12 Nguyễn Huệ, P.Bến Nghé, Q.1"


def test_vietnamese_address_with_alley_and_old_six_digit_postal_code() -> None:
    result = address("Số 5 Ngõ 10 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội 100000")
    assert result.extra == {
        "house_number": "5",
        "alley": "10",
        "street": "Huế",
        "subdistrict": "Hàng Bài",
        "district": "Hoàn Kiếm",
        "province": "Hanoi",
        "province_code": "VN-HN",
        "country": "VN",
        "postal_code": "100000",
    }


def test_vietnamese_district_level_cities_and_communes() -> None:
    result = address("Thôn 3, Xã Ea Kao, TP. Buôn Ma Thuột, Đắk Lắk")
    assert result.extra["subdistrict"] == "Ea Kao"
    assert result.extra["district"] == "Buôn Ma Thuột"
    assert result.extra["province"] == "Dak Lak"


def test_ascii_vietnamese_province_names_are_not_taken_for_markers() -> None:
    result = address("12 Thu Dau Mot, Binh Duong")
    assert result.extra["street"] == "Thu Dau Mot"
    assert result.extra["province"] == "Binh Duong"


def test_an_address_without_known_parts_is_kept_as_text() -> None:
    result = address("somewhere  over the rainbow")
    assert result.value == "somewhere over the rainbow"
    assert result.extra == {}
    assert address("same", country="TH").extra == {"country": "TH"}


def test_punctuation_only_is_invalid() -> None:
    assert address(" ,, ").flag == "invalid_address"
    assert address(None) == EMPTY
