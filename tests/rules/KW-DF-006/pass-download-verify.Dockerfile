FROM debian:12.5@sha256:4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c
RUN curl -fsSLo /tmp/install.sh https://get.example.com/install.sh \
 && echo "24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d  /tmp/install.sh" | sha256sum -c - \
 && sh /tmp/install.sh && curl -fsS https://example.com/health | grep ok
USER 1000
