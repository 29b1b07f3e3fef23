"""The files of 随手拍: what a downloaded photo or voice message becomes before it is kept.

Nothing is kept as it came. A photo is decoded and encoded again as a JPEG: what the camera
wrote beside the pixels (EXIF, with the GPS position of the resident's home; comments; any
bytes appended to the file) is not carried over. A voice message (WeChat's AMR, QQ's SILK,
Feishu's Opus …) is decoded and kept as a WAV a browser plays. A video is kept as sent, once
its container opens with a video stream in it, with a still of its first frame. Whatever does
not decode is refused (`Refused`, with the reason staff read).

Files live under MEDIA_DIR (default `var/media` in the project), under random names.
"""
import io
import os
import secrets
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.settings import media_dir

# Largest download accepted per kind: beyond what a phone sends, small enough to hold in memory.
MAX_BYTES = {"image": 15 * 1024 * 1024, "voice": 4 * 1024 * 1024, "video": 30 * 1024 * 1024,
             "file": 15 * 1024 * 1024}
MAX_PIXELS = 50_000_000  # a photo larger than this is taken for a decompression bomb
LONGEST_SIDE = 4096  # a kept photo is scaled down to this; staff need to see, not to print
THUMB_SIDE = 320
MAX_VOICE_SECONDS = 5 * 60
VOICE_RATE = 16000  # samples per second of a kept voice message (AMR has 8000, SILK 24000)
SILK = (b"#!SILK_V3", b"\x02#!SILK_V3")  # QQ and WeChat prefix the header with 0x02


class Refused(ValueError):
    """A file that is not kept: `reason` in Chinese, for staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Prepared:
    """A file as it will be kept: its bytes, type and file ending, and a thumbnail (JPEG) if any."""
    kind: str
    body: bytes
    content_type: str
    suffix: str
    thumb: bytes | None = None


def prepare(kind: str, data: bytes) -> Prepared:
    """What `data`, downloaded as `kind`, is kept as; `Refused` when it is too large or not what
    it claims to be. A file sent as a document is kept when it is a photo."""
    if len(data) > MAX_BYTES.get(kind, 0):
        raise Refused("文件太大，未保存")
    if not data:
        raise Refused("文件是空的，未保存")
    if kind in ("image", "file"):
        return _image(data)
    if kind == "voice":
        return _voice(data)
    if kind == "video":
        return _video(data)
    raise Refused("不支持的类型，未保存")


def _opened_image(data: bytes) -> Image.Image:
    """The decoded image; Refused when it is not one, is too large, or is broken."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise Refused("图片尺寸过大，未保存")
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
        except Refused:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, EOFError):
            raise Refused("无法识别的图片，未保存") from None
    return image


def _image(data: bytes) -> Prepared:
    image = _opened_image(data)
    image = ImageOps.exif_transpose(image)  # upright as the phone showed it, before its EXIF goes
    image = image.convert("RGB")
    image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    return Prepared("image", _jpeg(image, 85), "image/jpeg", ".jpg", _thumbnail(image))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """The pixels alone as a JPEG: no EXIF, ICC profile or comment is passed on."""
    image.info.clear()  # Pillow would write the source's comment again, from here
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return _jpeg(small.convert("RGB"), 80)


def _voice(data: bytes) -> Prepared:
    """Voice as a 16-bit mono WAV: SILK through pysilk, everything else through FFmpeg's
    decoders (PyAV), in this process: no shell, no temporary file."""
    if data.startswith(SILK):
        samples, rate = _silk_samples(data), 24000
        if len(samples) > MAX_VOICE_SECONDS * rate * 2:
            raise Refused("语音太长，未保存")
    else:
        samples, rate = _decoded_samples(data), VOICE_RATE
    if not samples:
        raise Refused("无法识别的语音，未保存")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples)
    return Prepared("voice", out.getvalue(), "audio/wav", ".wav")


def _silk_samples(data: bytes) -> bytes:
    import pysilk  # only the fetch loop decodes: the console never loads it
    out = io.BytesIO()
    try:
        pysilk.decode(io.BytesIO(data), out, 24000)
    except Exception:  # noqa: BLE001 - the decoder's own errors vary by backend: all mean "broken"
        raise Refused("无法识别的语音，未保存") from None
    return out.getvalue()


def _decoded_samples(data: bytes) -> bytes:
    import av  # FFmpeg's decoders: AMR-NB/WB, Opus, MP3, AAC
    resampler = av.AudioResampler(format="s16", layout="mono", rate=VOICE_RATE)
    chunks, most = [], MAX_VOICE_SECONDS * VOICE_RATE * 2
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio or container.streams.video:
                raise Refused("无法识别的语音，未保存")
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(bytes(out.planes[0])[:out.samples * 2])
                if sum(map(len, chunks)) > most:
                    raise Refused("语音太长，未保存")
    except Refused:
        raise
    except (av.FFmpegError, ValueError, IndexError, EOFError):
        raise Refused("无法识别的语音，未保存") from None
    return b"".join(chunks)


def _video(data: bytes) -> Prepared:
    """A video kept as sent (re-encoding one would take the fetch loop minutes), once FFmpeg
    reads an MP4 or QuickTime container with a video stream in it; its first frame as the still."""
    import av
    if data[4:8] != b"ftyp":
        raise Refused("不支持的视频格式，未保存")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise Refused("无法识别的视频，未保存")
            first = next(container.decode(video=0), None)
            still = _thumbnail(first.to_image()) if first is not None else None
    except Refused:
        raise
    except (av.FFmpegError, ValueError, IndexError, EOFError, StopIteration):
        raise Refused("无法识别的视频，未保存") from None
    return Prepared("video", data, "video/mp4", ".mp4", still)


# --- keeping -------------------------------------------------------------------------------------

def save(prepared: Prepared) -> tuple[str, str | None]:
    """Write the file (and its thumbnail) under random names; the names, relative to MEDIA_DIR."""
    folder = media_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + prepared.suffix
    _write(folder / name, prepared.body)
    thumb = None
    if prepared.thumb is not None:
        thumb = name.rsplit(".", 1)[0] + ".thumb.jpg"
        _write(folder / thumb, prepared.thumb)
    return name, thumb


def _write(path: Path, body: bytes) -> None:
    """All or nothing: a file is never seen half-written by the console."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(body)
    os.chmod(partial, 0o640)
    partial.replace(path)


def path_of(name: str) -> Path | None:
    """The kept file of that name; None when it is not a plain name in MEDIA_DIR or is gone."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = media_dir() / name
    return path if path.is_file() else None


def delete(*names: str | None) -> None:
    for name in names:
        path = path_of(name) if name else None
        if path is not None:
            path.unlink(missing_ok=True)
