FROM python:3.12.3-slim@sha256:2b6e2a6c7a6e0f5f8e4d1c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a190876
COPY app.py /app/app.py
HEALTHCHECK CMD ["python", "/app/app.py", "--check"]
CMD ["python", "/app/app.py"]
