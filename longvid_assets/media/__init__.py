"""Pure media helpers around ffmpeg (imageio-ffmpeg's binary) and PyAV."""
