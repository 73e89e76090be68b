// Command fgwh is a webhook delivery system in one binary.
package main

func main() {}
