from lazyaf_runner.main import main

main()
