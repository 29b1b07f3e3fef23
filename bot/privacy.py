"""What may be shown in a group: phone numbers and ID numbers are masked (隐私保护)."""
import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![\dXx])(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678; other numbers keep their first and last parts only."""
    if not phone:
        return ""
    digits = phone.strip()
    if _PHONE.fullmatch(digits):
        return _PHONE.sub(r"\1****\3", digits)
    if len(digits) > 7:
        return digits[:3] + "****" + digits[-4:]
    return digits


def mask_sensitive(text: str) -> str:
    """Mask every mobile number and 18-digit ID number in a message meant for a group."""
    return _PHONE.sub(r"\1****\3", _ID_NUMBER.sub(r"\1********\2", text))
