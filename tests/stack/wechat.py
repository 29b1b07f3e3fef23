"""The personal-WeChat channels of the test stack, pointed at the fake platform (test values only)."""
MP = {
    "app_id": "wxTestOfficialAcct",
    "app_secret": "test-mp-secret",
    "token": "wechatMpToken",
    "encoding_aes_key": "pImylfM42OofffMbAS8DeZ8dN01nt5BAprV2MQiTrHg",
}
KF = {
    "corp_id": "wwTestKfCorp0001",
    "secret": "test-kf-secret",
    "token": "wechatKfToken",
    "encoding_aes_key": "0GEtrYlBBosgT/kWgrYPxmCnXAk6LzrfGu/ngR5UHOU",
}


def credentials(fake_base_url: str) -> dict:
    return {
        "connectors.wechat_mp.WeChatMpInput": {**MP, "api_base": fake_base_url + "/wechat_mp"},
        "connectors.wechat_kf.WeChatKfInput": {**KF, "api_base": fake_base_url + "/wechat_kf"},
    }
