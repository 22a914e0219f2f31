FROM nginx:1.27.0 AS web
FROM scratch
COPY --from=web /usr/sbin/nginx /nginx
USER 101
