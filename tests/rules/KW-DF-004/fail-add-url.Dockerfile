FROM debian:12.5@sha256:4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c
ADD https://example.com/releases/tool-1.2.tar.gz /opt/
USER 1000
