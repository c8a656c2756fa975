import sys

from flows.documents.preview import main

sys.exit(main(sys.argv[1:]))
