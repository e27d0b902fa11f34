module slipway.invalid/referrers-registry

go 1.24

require github.com/google/go-containerregistry v0.22.1
