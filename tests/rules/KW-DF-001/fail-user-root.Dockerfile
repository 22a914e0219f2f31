FROM python:3.12.3-slim@sha256:2b6e2a6c7a6e0f5f8e4d1c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a190876
RUN useradd --uid 10001 app
USER 10001
RUN pip install --user flask
USER 0:0
CMD ["python", "/app/app.py"]
