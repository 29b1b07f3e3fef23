"""The Feishu app of the test stack: encrypted, signed events, its API at the fake platform."""
APP_ID = "cli_a1b2c3d4e5f6a7b8"
APP_SECRET = "test-app-secret"
VERIFICATION_TOKEN = "test-verification-token"
ENCRYPT_KEY = "test-encrypt-key"
BOT_OPEN_ID = "ou_bot0community0assistant"
BOT_NAME = "社区小助手"
API_PREFIX = "/feishu"  # where the fake platform answers as open.feishu.cn


def credentials(fake_base_url: str) -> dict:
    return {"connectors.feishu.FeishuInput": {
        "app_id": APP_ID, "app_secret": APP_SECRET, "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY, "bot_open_id": BOT_OPEN_ID, "bot_name": BOT_NAME,
        "api_base": fake_base_url + API_PREFIX}}
