# want: LD-DF-110@2
FROM registry.example.com:5000/team/base:2.1
HEALTHCHECK NONE
USER 1000
