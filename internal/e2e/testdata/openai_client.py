"""Calls asr-server's OpenAI-compatible endpoints with the official client.

Usage: openai_client.py BASE_URL API_KEY AUDIO_FILE

Prints one JSON object: for each call, what the client parsed, so that the
Go test can check the values.
"""
import json
import sys

from openai import OpenAI


def main():
    base_url, api_key, audio = sys.argv[1:4]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)
    out = {}

    def transcribe(**kwargs):
        with open(audio, "rb") as f:
            return client.audio.transcriptions.create(model="whisper-1", file=f, **kwargs)

    out["json"] = {"text": transcribe(response_format="json").text}
    for fmt in ("text", "srt", "vtt"):
        out[fmt] = transcribe(response_format=fmt)
    verbose = transcribe(response_format="verbose_json",
                         timestamp_granularities=["word", "segment"])
    out["verbose_json"] = {
        "language": verbose.language,
        "duration": verbose.duration,
        "text": verbose.text,
        "segments": [
            {"id": s.id, "start": s.start, "end": s.end, "text": s.text,
             "tokens": s.tokens, "avg_logprob": s.avg_logprob}
            for s in verbose.segments
        ],
        "words": [{"word": w.word, "start": w.start, "end": w.end}
                  for w in (verbose.words or [])],
    }
    with open(audio, "rb") as f:
        out["translation"] = {
            "text": client.audio.translations.create(model="whisper-1", file=f).text}
    try:
        transcribe(response_format="json", temperature=3)
        out["bad_temperature"] = None
    except Exception as e:  # the client raises its own error types
        out["bad_temperature"] = {"status": getattr(e, "status_code", None),
                                  "type": type(e).__name__,
                                  "body": getattr(e, "body", None)}
    models = client.models.list()
    out["models"] = [m.id for m in models.data]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
