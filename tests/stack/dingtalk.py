"""DingTalk's block of credentials.yml for the test stack: the robot OpenAPI and the session
webhooks both point at the fake platform under /dingtalk."""
APP_KEY = "dingtestappkey0001"
APP_SECRET = "test-dingtalk-app-secret-not-real"


def credentials(fake_base_url: str) -> dict:
    return {"connectors.dingtalk.DingTalkInput": {
        "app_key": APP_KEY, "app_secret": APP_SECRET,
        "api_base": fake_base_url + "/dingtalk", "oapi_base": fake_base_url + "/dingtalk",
    }}
