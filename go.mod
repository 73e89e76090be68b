module github.com/fgwh/fgwh

go 1.26.8
