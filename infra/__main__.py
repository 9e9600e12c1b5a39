from infra.stack import main

raise SystemExit(main())
