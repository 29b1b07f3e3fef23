"""Real media files for the 随手拍 tests, made here: a JPEG carrying an EXIF GPS position, an
AMR-NB and a SILK voice message, a short MP4, and broken ones."""
import io

import numpy as np
from PIL import Image

GPS_IFD = 0x8825
# Where the photo claims it was taken (天安门): the stored copy must not know it any more.
GPS = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}


def jpeg_with_gps(size=(640, 480), colour=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[GPS_IFD] = GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"home of the resident")
    return out.getvalue()


def gps_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(GPS_IFD))


def broken_jpeg() -> bytes:
    """A JPEG's first bytes followed by rubbish: claims to be a photo, is none."""
    return jpeg_with_gps()[:300] + b"\x00rubbish" * 64


def _tone(rate: int, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def amr_voice() -> bytes:
    """An AMR-NB voice message, as WeChat and DingTalk send them (encoded with FFmpeg's opencore)."""
    import av
    out = io.BytesIO()
    container = av.open(out, "w", format="amr")
    stream = container.add_stream("libopencore_amrnb", rate=8000, layout="mono")
    stream.codec_context.format = "s16"
    stream.bit_rate = 12200
    frame = av.AudioFrame.from_ndarray(_tone(8000).reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 8000
    for packet in [*stream.encode(frame), *stream.encode(None)]:
        container.mux(packet)
    container.close()
    return out.getvalue()


def silk_voice() -> bytes:
    """A SILK v3 voice message with Tencent's 0x02 prefix, as QQ sends them."""
    import pysilk
    out = io.BytesIO()
    pysilk.encode(io.BytesIO(_tone(24000).tobytes()), out, 24000, 24000, tencent=True)
    return out.getvalue()


def mp4_video() -> bytes:
    import av
    out = io.BytesIO()
    container = av.open(out, "w", format="mp4")
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    for i in range(5):
        frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), (i * 40, 100, 100)))
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return out.getvalue()
