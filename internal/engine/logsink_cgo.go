//go:build linux && cgo

package engine

import "C"

//export asrLogLine
func asrLogLine(level C.int, text *C.char) {
	sink.write(int(level), C.GoString(text))
}
