FROM python:3.12.3-slim
USER 1000
