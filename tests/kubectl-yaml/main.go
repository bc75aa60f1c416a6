// Reads a stream of Kubernetes manifests on standard input and prints each
// document as `kubectl apply` reads it: split at "---" lines as
// k8s.io/apimachinery's YAMLReader splits them, then sigs.k8s.io/yaml's
// YAMLToJSON (YAML 1.1 through gopkg.in/yaml.v2). One JSON document a line;
// documents that hold nothing are skipped, as kubectl skips them.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var docs [][]byte
	var current bytes.Buffer
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "---") && strings.TrimRightFunc(line[3:], unicode.IsSpace) == "" {
			docs = append(docs, append([]byte(nil), current.Bytes()...))
			current.Reset()
			continue
		}
		current.WriteString(line)
		current.WriteByte('\n')
	}
	docs = append(docs, current.Bytes())
	for _, doc := range docs {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		out, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if string(out) == "null" {
			continue
		}
		fmt.Println(string(out))
	}
}
