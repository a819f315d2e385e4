//go:build race

package image

// raceDetector: the race detector multiplies memory use, so RSS bounds
// are looser.
const raceDetector = true
