FROM debian:12.5@sha256:4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/releases/tool-1.2.tar.gz /opt/
ADD vendor.tar.gz /opt/vendor/
USER 1000
