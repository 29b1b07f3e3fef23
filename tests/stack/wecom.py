"""WeCom's two channels in the test stack, pointed at the fake platform (test values only)."""
APP = {
    "token": "wecomAppToken",
    "encoding_aes_key": "4i8FkCyBV3P0RfdKFce7kwK7qlSMB9RZDU2pmKXr1+U",
    "corp_id": "wwTestCorp0001",
    "secret": "test-corp-secret",
    "agent_id": 1000002,
}
BOT = {
    "token": "wecomBotToken",
    "encoding_aes_key": "r+Nx+zocn14jKzYCX4U1wT7N1j6vpjDPe8Civ99Zm5Q",
    "bot_name": "社区小助手",
}


def credentials(fake_base_url: str) -> dict:
    return {
        "connectors.wecom.WeComInput": {**APP, "api_base": fake_base_url + "/wecom"},
        "connectors.wecom.WeComBotInput": {**BOT, "api_base": fake_base_url + "/wecom"},
    }
