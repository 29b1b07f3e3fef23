"""What may be shown in a group: phone numbers and ID numbers are masked (隐私保护).

The directory's service numbers (hotlines, the property company's) are public: residents are
meant to call them, so one that is a mobile number stays whole (`public_numbers`)."""
import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Compound, Hotline

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![\dXx])(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")
_NOT_DIGIT = re.compile(r"\D")


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


def mask_sensitive(text: str, public: Collection[str] = ()) -> str:
    """Mask every mobile number and 18-digit ID number in a message meant for a group, except
    the numbers in `public` (digits only, as `public_numbers` gives them)."""
    def phone(match: re.Match) -> str:
        return match[0] if match[0] in public else f"{match[1]}****{match[3]}"
    return _PHONE.sub(phone, _ID_NUMBER.sub(r"\1********\2", text))


def public_numbers(session: Session) -> frozenset[str]:
    """The directory's service numbers, digits only: every hotline (site, community, compound)
    and every property company's hotline. Secretaries', grid workers' and building leaders'
    phones are personal and are not among them."""
    numbers = [*session.scalars(select(Hotline.number)), *session.scalars(select(Compound.property_hotline))]
    return frozenset(_NOT_DIGIT.sub("", number) for number in numbers if number)
