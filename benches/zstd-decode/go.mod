module example.com/slipway/zstd-decode

go 1.22

require github.com/klauspost/compress v1.18.0
