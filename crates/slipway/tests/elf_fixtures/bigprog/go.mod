module example.com/slipway/bigprog

go 1.22
