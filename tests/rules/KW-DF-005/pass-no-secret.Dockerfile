FROM python:3.12.3-slim@sha256:2b6e2a6c7a6e0f5f8e4d1c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a190876
ENV DB_PASSWORD_FILE=/run/secrets/db-password \
    TOKEN_TTL=3600 \
    SECRET_NAME=shop/db
ARG VERSION=1.4.2
RUN --mount=type=secret,id=pip_token pip install --index-url "https://$(cat /run/secrets/pip_token)@pypi.example.com/simple" app
USER 1000
