# augur: a static binary on a small base, run as nobody.
#   docker build -t augur .
#   docker run -p 9477:9477 -v augur-data:/data augur
# The build step is the README's (go build ./cmd/augur), with cgo off so
# that the binary is static.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /augur ./cmd/augur

# Alpine for its wget, which the HEALTHCHECK uses; augur needs nothing of it.
FROM alpine:3.22
COPY --from=build /augur /augur
RUN mkdir /data && chown 65534:65534 /data
USER 65534:65534
VOLUME /data
EXPOSE 9477 9094
HEALTHCHECK --interval=30s --timeout=5s CMD wget -q -O /dev/null http://127.0.0.1:9477/-/healthy || exit 1
ENTRYPOINT ["/augur"]
CMD ["serve", "--storage.path=/data", "--web.listen-address=:9477"]
