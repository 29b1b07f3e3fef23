"""The OneBot v11 bot of the test stack: signed reports, its HTTP API at the fake platform."""
SELF_ID = "10001"  # the bot's QQ number
SECRET = "test-onebot-secret"
ACCESS_TOKEN = "test-onebot-access-token"
API_PREFIX = "/onebot"  # where the fake platform answers as the OneBot HTTP API


def credentials(fake_base_url: str) -> dict:
    return {"connectors.onebot.OneBotInput": {
        "api_base": fake_base_url + API_PREFIX, "access_token": ACCESS_TOKEN, "secret": SECRET,
        "self_id": SELF_ID}}
