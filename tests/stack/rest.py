def credentials(fake_base_url: str) -> dict:
    return {"rest": None}
