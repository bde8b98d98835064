from tracehouse.app.entry import main

main()
