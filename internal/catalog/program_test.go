package catalog

// gobinaryProgram is a small Go program pinned to old modules, built by
// testutil.GoBinary for the layered image (the same one the gobinary tests
// use, so the build cache is shared).
var gobinaryProgram = map[string]string{
	"go.mod": `module example.com/lockdown/gobinarytest

go 1.21

require (
	example.com/lockdown/localdep v0.1.0
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/text v0.3.5
)

replace golang.org/x/sys => golang.org/x/sys v0.28.0

replace example.com/lockdown/localdep v0.1.0 => ./localdep
`,
	"main.go": `package main

import (
	"fmt"

	"example.com/lockdown/localdep"
	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"
)

func main() {
	fmt.Println(gin.New() != nil, language.English, localdep.Name)
}
`,
	"localdep/go.mod":   "module example.com/lockdown/localdep\n\ngo 1.21\n",
	"localdep/local.go": "package localdep\n\nconst Name = \"local\"\n",
}
