"""`python -m console`: run the staff console."""
from console.app import main

main()
