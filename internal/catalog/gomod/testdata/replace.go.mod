module example.com/app

go 1.21

toolchain go1.21.5

require (
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/text v0.3.5 // indirect
	example.com/forked v1.0.0
	example.com/local v0.0.0-00010101000000-000000000000
	example.com/pinned v1.2.0
	example.com/other v1.2.0
)

require gopkg.in/yaml.v2 v2.2.8 // indirect

replace example.com/forked => github.com/someone/forked v1.0.1

replace example.com/local => ../local

replace example.com/pinned v1.2.0 => example.com/pinned v1.2.1

replace example.com/other v1.0.0 => example.com/other v9.9.9

exclude golang.org/x/net v0.0.1
