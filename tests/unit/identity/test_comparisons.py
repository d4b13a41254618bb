"""Comparison levels on Thai, Vietnamese and romanized values."""

import numpy as np

from c360.identity.comparisons import COMPARISON_INDEX, FeatureTable, compare
from c360.identity.features import features_of


def levels(a: dict[str, object], b: dict[str, object]) -> dict[str, int]:
    table = FeatureTable.of([features_of(a), features_of(b)])
    row = compare(table, np.array([0]), np.array([1]))[0]
    return {name: int(row[i]) for name, i in COMPARISON_INDEX.items()}


def test_thai_script_and_its_romanization_share_a_name_key() -> None:
    found = levels(
        {"first_name": "สมชาย", "last_name": "ใจดี"},
        {"first_name": "Somchai", "last_name": "Jaidee"},
    )
    assert found["given_name"] == 2 and found["family_name"] == 2


def test_vietnamese_with_and_without_diacritics_meet_below_the_exact_level() -> None:
    found = levels(
        {"first_name": "An", "last_name": "Nguyễn Văn"},
        {"first_name": "An", "last_name": "Nguyen Van"},
    )
    assert found["given_name"] == 1
    assert found["family_name"] == 2  # tone marks differ: same key, not the same written name


def test_a_name_in_family_first_order_agrees_with_the_same_name_split_the_other_way() -> None:
    found = levels(
        {"first_name": "Lê Thị", "last_name": "Thủy"}, {"first_name": "Thủy", "last_name": "Lê Thị"}
    )
    assert found["given_name"] == 3 and found["family_name"] == 2


def test_birth_dates_tolerate_buddhist_era_swapped_day_and_month_and_one_typo() -> None:
    assert levels({"birth_date": "1987-03-15"}, {"birth_date": "1987-03-15"})["birth_date"] == 1
    assert levels({"birth_date": "1987-03-15"}, {"birth_date": "2530-03-15"})["birth_date"] == 2
    assert levels({"birth_date": "1987-03-05"}, {"birth_date": "1987-05-03"})["birth_date"] == 2
    assert levels({"birth_date": "1987-03-15"}, {"birth_date": "1987-03-16"})["birth_date"] == 2
    assert levels({"birth_date": "1987-03-15"}, {"birth_date": "1987-11-30"})["birth_date"] == 3
    assert levels({"birth_date": "1987-03-15"}, {"birth_date": "1960-01-01"})["birth_date"] == 4
    assert levels({"birth_date": "1987-03-15"}, {})["birth_date"] == 0


def test_contact_points_exact_near_and_different() -> None:
    assert levels({"email": "an@gmail.com"}, {"email": "an@gmail.com"})["email"] == 1
    assert levels({"email": "an.ng@gmail.com"}, {"email": "an.ng@yahoo.com"})["email"] == 2
    assert levels({"email": "vannguyen@gmail.com"}, {"email": "vannguyen1@gmail.com"})["email"] == 3
    assert levels({"phone": "+66812345678"}, {"phone": "+84812345678"})["phone"] == 2
    assert levels({"phone": "+66812345678"}, {"phone": "+66812345679"})["phone"] == 2
    assert levels({"phone": "+66812345678"}, {"phone": "+66899999999"})["phone"] == 3


def test_placeholder_names_and_forms_of_address_are_not_names() -> None:
    assert "fk" not in features_of({"full_name": "Walk-in"})
    assert "fk" not in features_of({"first_name": "Khách", "last_name": "lẻ"})
    chi = features_of({"first_name": "Chị", "last_name": "Thủy"})
    assert chi["fn"] == "thủy" and "ln" not in chi


def test_a_western_order_vietnamese_name_read_family_first_is_put_right() -> None:
    # the standardizer reads "Van Hung Phan" as family Van, middle Hung, given Phan
    found = features_of({"first_name": "Phan", "middle_name": "Hung", "last_name": "Van"})
    assert found["fk"] == features_of({"first_name": "Hung"})["fk"]
    assert found["lk"] == features_of({"last_name": "Phan"})["lk"]
    brother = features_of({"first_name": "Phan", "middle_name": "Phuc", "last_name": "Van"})
    assert brother["fk"] != found["fk"]
