"""Personal data masking for logs and list views."""

from __future__ import annotations

import json
import logging

from shared.logs import JsonFormatter
from shared.masking import mask_complainant, mask_name, mask_phone, mask_text, mask_unit


def test_phone_numbers_keep_only_prefix_and_last_four():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("0571-8888 1234") == "057****1234"
    assert mask_phone("") == ""


def test_names_keep_only_the_first_character():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def test_units_keep_the_building_and_hide_the_room():
    assert mask_unit("3栋2单元1201") == "3栋****"
    assert mask_unit("1201") == "****"


def test_phone_numbers_inside_free_text_are_masked():
    assert mask_text("业主13812341234来电") == "业主138****1234来电"


def test_log_lines_never_carry_a_full_phone_number():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "caller %s", ("13812341234",), None)
    line = JsonFormatter("test").format(record)
    assert "13812341234" not in line and json.loads(line)["msg"] == "caller 138****1234"


def test_complainant_masking_covers_every_personal_field():
    masked = mask_complainant({"name": "李四", "phone": "13900001111", "unit": "5栋1单元302"})
    assert masked == {"name": "李*", "phone": "139****1111", "unit": "5栋****"}
