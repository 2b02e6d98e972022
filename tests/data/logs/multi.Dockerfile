FROM golang:1.22 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/server ./cmd/server

FROM node:20 AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ .
RUN npm run build

FROM gcr.io/distroless/base-debian12
COPY --from=builder /out/server /server
COPY --from=web /web/dist /static
ENTRYPOINT ["/server"]
