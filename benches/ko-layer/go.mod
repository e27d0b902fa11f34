module slipway.bench/ko-layer

go 1.22
