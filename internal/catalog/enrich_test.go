package catalog

import (
	"testing"

	"github.com/package-url/packageurl-go"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func TestPURL(t *testing.T) {
	debian := &model.Distro{ID: "debian", VersionID: "12"}
	ubuntu := &model.Distro{ID: "ubuntu", VersionID: "18.04", IDLike: []string{"debian"}}
	alpine := &model.Distro{ID: "alpine", VersionID: "3.20.3"}
	alma := &model.Distro{ID: "almalinux", VersionID: "9.4", IDLike: []string{"rhel", "centos", "fedora"}}
	tests := []struct {
		name   string
		p      model.Package
		distro *model.Distro
		want   string
	}{
		{"deb same source", model.Package{Type: "deb", Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64", SourceName: "bash", SourceVersion: "5.2.15-2+b7"}, debian,
			"pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12"},
		{"deb other source", model.Package{Type: "deb", Name: "libacl1", Version: "2.3.1-3", Arch: "amd64", SourceName: "acl", SourceVersion: "2.3.1-3"}, debian,
			"pkg:deb/debian/libacl1@2.3.1-3?arch=amd64&distro=debian-12&upstream=acl"},
		{"deb binNMU", model.Package{Type: "deb", Name: "util-linux-extra", Version: "2.38.1-5+b1", Arch: "amd64", SourceName: "util-linux", SourceVersion: "2.38.1-5"}, debian,
			"pkg:deb/debian/util-linux-extra@2.38.1-5%2Bb1?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5"},
		{"deb epoch", model.Package{Type: "deb", Name: "attr", Version: "1:2.5.1-4", Arch: "amd64", SourceName: "attr", SourceVersion: "1:2.5.1-4"}, debian,
			"pkg:deb/debian/attr@1:2.5.1-4?arch=amd64&distro=debian-12"},
		{"ubuntu", model.Package{Type: "deb", Name: "bash", Version: "4.4.18-2ubuntu1.2", Arch: "amd64", SourceName: "bash"}, ubuntu,
			"pkg:deb/ubuntu/bash@4.4.18-2ubuntu1.2?arch=amd64&distro=ubuntu-18.04"},
		{"apk", model.Package{Type: "apk", Name: "libcrypto3", Version: "3.3.2-r0", Arch: "x86_64", SourceName: "openssl", SourceVersion: "3.3.2-r0"}, alpine,
			"pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"},
		{"rpm epoch", model.Package{Type: "rpm", Name: "perl-IO", Version: "1:1.38-416.el8", Epoch: 1, Arch: "x86_64"}, alma,
			"pkg:rpm/almalinux/perl-IO@1.38-416.el8?arch=x86_64&distro=almalinux-9.4&epoch=1"},
		{"rpm no epoch", model.Package{Type: "rpm", Name: "bash", Version: "5.1.8-6.el9", Arch: "x86_64"}, alma,
			"pkg:rpm/almalinux/bash@5.1.8-6.el9?arch=x86_64&distro=almalinux-9.4"},
		{"golang module", model.Package{Type: "golang", Name: "github.com/gin-gonic/gin", Version: "v1.6.0", Arch: "amd64"}, debian,
			"pkg:golang/github.com/gin-gonic/gin@v1.6.0"},
		{"golang stdlib", model.Package{Type: "golang", Name: "stdlib", Version: "1.22.3"}, nil,
			"pkg:golang/stdlib@1.22.3"},
		{"golang devel", model.Package{Type: "golang", Name: "example.com/app", Version: "(devel)"}, nil,
			"pkg:golang/example.com/app@%28devel%29"},
		{"golang local replacement", model.Package{Type: "golang", Name: "./localdep", Version: "(devel)"}, nil, ""},
		{"unknown type", model.Package{Type: "weird", Name: "x"}, nil, ""},
		{"npm", model.Package{Type: "npm", Name: "lodash", Version: "4.17.21", Arch: "amd64"}, debian, "pkg:npm/lodash@4.17.21"},
		{"npm scoped", model.Package{Type: "npm", Name: "@babel/core", Version: "7.12.3"}, nil, "pkg:npm/%40babel/core@7.12.3"},
		{"maven", model.Package{Type: "maven", Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1"}, debian,
			"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
		{"maven without group", model.Package{Type: "maven", Name: "log4j-core", Version: "2.14.1"}, nil, ""},
		{"pypi", model.Package{Type: "pypi", Name: "Django_REST.framework", Version: "3.11.0"}, nil, "pkg:pypi/django-rest-framework@3.11.0"},
		{"cargo", model.Package{Type: "cargo", Name: "smallvec", Version: "1.6.0"}, nil, "pkg:cargo/smallvec@1.6.0"},
		{"composer", model.Package{Type: "composer", Name: "guzzlehttp/guzzle", Version: "7.4.4"}, nil, "pkg:composer/guzzlehttp/guzzle@7.4.4"},
		{"gem", model.Package{Type: "gem", Name: "rails", Version: "6.0.3.4"}, nil, "pkg:gem/rails@6.0.3.4"},
		{"nuget", model.Package{Type: "nuget", Name: "Newtonsoft.Json", Version: "12.0.3"}, nil, "pkg:nuget/Newtonsoft.Json@12.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PURL(tt.p, tt.distro)
			if got != tt.want {
				t.Errorf("PURL(%+v) = %q, want %q", tt.p, got, tt.want)
			}
			if got == "" {
				return
			}
			if _, err := packageurl.FromString(got); err != nil {
				t.Errorf("PURL %q does not parse: %v", got, err)
			}
		})
	}
}
