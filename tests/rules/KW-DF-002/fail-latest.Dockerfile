FROM nginx:latest
USER nginx
