"""News video on demand: ingest (ffprobe/ffmpeg → HLS ladder), catalogue, search, playback statistics."""
