# want: LD-DF-111@5 LD-DF-111@6 LD-DF-111@7 LD-DF-113@6
FROM debian:12.7-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
HEALTHCHECK NONE
USER 1000
RUN curl -fsSL https://get.example.com/install.sh | bash
RUN wget -qO- https://example.com/setup | sudo -E sh -
RUN sh -c "$(curl -fsSL https://example.com/install.sh)"
RUN curl -fsSLo /tmp/i.sh https://example.com/install.sh && sha256sum -c i.sha256 && sh /tmp/i.sh
