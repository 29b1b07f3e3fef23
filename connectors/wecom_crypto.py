"""WeCom's callback crypto (企业微信回调加解密), as WeCom's published `WXBizMsgCrypt` sample does it.

- signature: SHA1 (hex) of the sorted concatenation of token, timestamp, nonce and ciphertext;
- cipher: AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = the key's first 16 bytes;
- plaintext: 16 random bytes + the message length (4 bytes, network order) + message +
  receive id, PKCS#7-padded to 32-byte blocks, then base64.

The receive id is the corp id for a self-built application's callback and "" for the
智能机器人 (AI bot). Used by both WeCom channels in `connectors/wecom.py`.
"""
import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
RANDOM_PREFIX = 16


class CryptoError(ValueError):
    """A callback that cannot be trusted or read."""


class BadSignature(CryptoError):
    pass


class BadCiphertext(CryptoError):
    pass


class WrongReceiveId(CryptoError):
    pass


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The callback signature; with `encrypted` "" it is the Official Account's plain `signature`
    (the sorted token, timestamp and nonce), as the empty string sorts first and adds nothing."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()


def signature_matches(given: str, token: str, timestamp: str, nonce: str, encrypted: str = "") -> bool:
    expected = signature(token, timestamp, nonce, encrypted)
    # as bytes: compare_digest refuses str with non-ASCII characters (a forged query may have them)
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


class WXBizMsgCrypt:
    """One callback configuration: the token, the EncodingAESKey and the expected receive id."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise ValueError("the EncodingAESKey must be the 43 characters WeCom shows")
        self._token, self._key, self._receive_id = token, key, receive_id.encode()

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        if not signature_matches(msg_signature, self._token, timestamp, nonce, encrypted):
            raise BadSignature("msg_signature does not match")

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET URL check (验证URL有效性): the decrypted echostr, to be answered as plain text."""
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr).decode()

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        """A POSTed callback's `Encrypt`/`encrypt` field: signature checked, then decrypted."""
        self.check_signature(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def decrypt(self, encrypted: str) -> bytes:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except binascii.Error:
            raise BadCiphertext("not base64") from None
        plain = self.decrypt_file(data)
        if len(plain) < RANDOM_PREFIX + 4:
            raise BadCiphertext("too short")
        (length,) = struct.unpack(">I", plain[RANDOM_PREFIX:RANDOM_PREFIX + 4])
        start = RANDOM_PREFIX + 4
        if start + length > len(plain):
            raise BadCiphertext("length past the end")
        if plain[start + length:] != self._receive_id:
            raise WrongReceiveId("the message is for another receive id")
        return plain[start:start + length]

    def decrypt_file(self, data: bytes) -> bytes:
        """AES-CBC with the callback's key, PKCS#7 to 32-byte blocks, undone: a callback's
        content, or a file the AI bot's message links to (its image URLs serve them encrypted)."""
        if not data or len(data) % BLOCK:
            raise BadCiphertext("not whole 32-byte blocks")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise BadCiphertext("bad padding")
        return padded[:-pad]

    def encrypt(self, message: bytes, random_prefix: bytes | None = None) -> str:
        """Encrypt a message for WeCom; the random prefix is fixed only to reproduce test vectors."""
        prefix = os.urandom(RANDOM_PREFIX) if random_prefix is None else random_prefix
        if len(prefix) != RANDOM_PREFIX:
            raise ValueError("the random prefix is 16 bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self._receive_id
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
