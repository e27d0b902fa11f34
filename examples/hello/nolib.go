//go:build !cgo

package main

const cgoEnabled = false

func cLibrary() string { return "none" }
