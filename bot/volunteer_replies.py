"""What the bot says to party-member volunteers, and about them to secretaries and residents
(回复话术, beside `bot.replies`). The rules that decide when each is said are `bot.volunteers`'."""
from datetime import datetime, timedelta

from bot.clock import local_text
from bot.models import PointsEntry, Ticket, Volunteer, VolunteerTask
from bot.privacy import mask_sensitive
from bot.skills import SKILLS, skills_zh
from bot.tickets import describe

# registering (党员回家报到), in the form the actions run
ONLY_ONE_TO_ONE = "党员报到请私聊小助手（点我的头像发消息），在群里不方便留个人信息。"
CANCELLED = "好的，报到先不登记了。需要时再对我说“党员报到”。"
QUESTIONS = {
    "volunteer_name": "欢迎党员同志回家报到！请问您怎么称呼（姓名）？随时回复“算了”可以取消。",
    "volunteer_compound": "您住在哪个小区？",
    "volunteer_work_unit": "您的工作单位是？",
    "volunteer_skills": "您有什么特长，能帮居民做什么？比如医生、护士、律师、教师、电工、水暖工、心理咨询、跑腿、陪伴老人，可以说几样。",
}
UNKNOWN_SKILLS = ("没认出您的特长。可以说：" + "、".join(skill.name_zh for skill in SKILLS.values())
                  + "，或者用几个字描述您能帮什么忙。")
NOT_REGISTERED = "您还不是登记的党员志愿者。在私聊里对我说“党员报到”即可登记。"


def already_registered(volunteer: Volunteer) -> str:
    if volunteer.status == "confirmed":
        return f"您已是{volunteer.compound.name}的党员志愿者（特长：{skills_zh(volunteer.skills)}）。有适合您的求助时我会私信您。"
    return f"您在{volunteer.compound.name}的报到已提交，正在等小区党支部书记确认。"


def registered_reply(volunteer: Volunteer) -> str:
    return (f"{volunteer.name}同志，您的报到已提交：{volunteer.compound.name}，{volunteer.work_unit}，"
            f"特长：{skills_zh(volunteer.skills)}。小区党支部书记确认后我会通知您。")


def to_confirm(volunteer: Volunteer) -> str:
    """To the branch secretary: a registration waits for them in the console."""
    return (f"【党员报到】{volunteer.name}（{volunteer.work_unit}）报到到{volunteer.compound.name}，"
            f"特长：{skills_zh(volunteer.skills)}。请到工作台“志愿者”确认。")


def registration_decided(volunteer: Volunteer, confirmed: bool) -> str:
    if confirmed:
        return (f"您在{volunteer.compound.name}的党员报到已确认，欢迎回家！有适合您的求助时我会私信您，"
                "回复“接单 #工单号”即可认领。")
    return f"您在{volunteer.compound.name}的党员报到未通过确认，如有疑问请联系小区党支部书记。"


# offering, claiming, finishing (组织建单、党员接单)
def offer_text(task: VolunteerTask) -> str:
    ticket = task.ticket
    return (f"【志愿服务】{describe(ticket)}：{mask_sensitive(ticket.text)}（需要：{skills_zh(task.skills)}）。"
            f"愿意帮忙请回复“接单 #{ticket.id}”，先到先得。")


def already_yours(task: VolunteerTask) -> str:
    return (f"#{task.ticket_id}已经是您认领的了，{local_text(task.claim_due_at)}前完成后回复"
            f"“完成 #{task.ticket_id} 情况说明”。")


def claimed_by_another(ticket_id: int) -> str:
    return f"#{ticket_id}已被其他志愿者认领了，谢谢您的热心！"


def claimed(task: VolunteerTask) -> str:
    """To the volunteer who won the claim: whom to contact and by when to finish."""
    ticket = task.ticket
    return (f"接单成功：{describe(ticket)}：{mask_sensitive(ticket.text)}。联系{_reporter_names(ticket)}，"
            f"有需要可找小区党支部书记{ticket.compound.secretary_name or ''}。"
            f"请在{local_text(task.claim_due_at)}前完成，完成后回复“完成 #{ticket.id} 情况说明 用时X小时”。")


def claimed_for_resident(ticket: Ticket, volunteer: Volunteer) -> str:
    return f"您的求助{describe(ticket)}已由党员志愿者{volunteer.name}认领，会尽快和您联系。"


def _reporter_names(ticket: Ticket) -> str:
    """居民王奶奶、李大爷; 居民 alone when nobody's name is known."""
    return "居民" + "、".join(dict.fromkeys(r.display_name for r in ticket.reporters[:3] if r.display_name))


def finished(task: VolunteerTask, confirm_after: timedelta) -> str:
    return (f"收到，#{task.ticket_id}已报完成（记{task.hours:g}小时）。居民确认后积分到账；"
            f"{confirm_after.days * 24}小时内居民没有回复的，由小区党支部书记确认。")


def credited(task: VolunteerTask, actor: str, points: int, balance: int) -> str:
    return f"#{task.ticket_id}已确认完成（{actor}），积分+{points}，当前积分{balance}。谢谢您！"


def back_after_unsatisfied(task: VolunteerTask, due: datetime) -> str:
    return (f"居民对#{task.ticket_id}的处理不满意，请继续跟进，"
            f"{local_text(due)}前再回复“完成 #{task.ticket_id} 情况说明”。")


def claim_returned(ticket_id: int) -> str:
    return (f"提醒：您认领的#{ticket_id}超过时限未报完成，已退回待认领。"
            f"如果还在办，请重新回复“接单 #{ticket_id}”。")


# the ledger (积分银行)
def points(volunteer: Volunteer, balance: int, latest: list[PointsEntry]) -> str:
    """我的积分: the balance and the latest ledger lines."""
    lines = [f"{local_text(e.at)} {e.points:+d} {e.reason}" for e in latest]
    recent = ("\n最近记录：\n" + "\n".join(lines)) if lines else "\n还没有积分记录。"
    return f"{volunteer.name}，您当前的志愿积分：{balance}。{recent}"


NO_POINTS = "您还不是登记的党员志愿者，没有积分记录。在私聊里对我说“党员报到”即可登记。"
